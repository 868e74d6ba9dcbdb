// Unit tests for the server command arguments and the messages shown for their results.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { positionArguments, searchResultMessage, verifyResultMessage } from "../../src/requests";

describe("positionArguments", () => {
  it("builds the one {uri, position} argument", () => {
    assert.deepEqual(positionArguments("file:///p/A.lean", { line: 3, character: 9 }), [
      { uri: "file:///p/A.lean", position: { line: 3, character: 9 } },
    ]);
  });
});

describe("searchResultMessage", () => {
  const cases: Array<[string, unknown, { level: string; text: string }]> = [
    [
      "a Lean-verified proof",
      { applied: true, edit: {}, provenance: "lean-verified", score: 0.91, message: "found in round 1" },
      { level: "information", text: "Proofwright prove: verified by Lean, applied. found in round 1" },
    ],
    [
      "a neural-only proof",
      { applied: true, edit: {}, provenance: "neural", score: 0.8345, message: "" },
      { level: "information", text: "Proofwright prove: neural score 0.83, not checked by Lean, applied" },
    ],
    [
      "a flagged proof",
      { applied: false, edit: null, provenance: "flagged", score: 0.2, message: "step 2 scored low" },
      { level: "warning", text: "Proofwright prove: flagged by the verifier (score 0.20). step 2 scored low" },
    ],
    [
      "no proof",
      { applied: false, edit: null, provenance: "unproved", score: null, message: "time budget spent" },
      { level: "warning", text: "Proofwright prove: no proof found. time budget spent" },
    ],
    ["an answer of the wrong shape", null, { level: "error", text: "Proofwright: the server's answer to prove is not an object" }],
    [
      "an unknown provenance",
      { applied: false, provenance: "maybe" },
      { level: "warning", text: "Proofwright prove: unknown result" },
    ],
  ];
  for (const [name, result, expected] of cases) {
    it(name, () => assert.deepEqual(searchResultMessage("prove", result), expected));
  }
});

describe("verifyResultMessage", () => {
  const cases: Array<[string, unknown, { level: string; text: string }]> = [
    [
      "verified",
      { provenance: "lean-verified", score: 0.9, flagged: [] },
      { level: "information", text: "Proofwright verify: verified by Lean" },
    ],
    [
      "two flagged steps",
      { provenance: "flagged", score: 0.1, flagged: [{}, {}] },
      { level: "warning", text: "Proofwright verify: flagged by the verifier (score 0.10), 2 flagged steps (see the Problems panel)" },
    ],
    [
      "neural with one flagged step",
      { provenance: "neural", score: null, flagged: [{}] },
      { level: "warning", text: "Proofwright verify: neural score only, not checked by Lean, 1 flagged step (see the Problems panel)" },
    ],
    ["a list instead of an object", [], { level: "error", text: "Proofwright: the server's answer to verify is not an object" }],
  ];
  for (const [name, result, expected] of cases) {
    it(name, () => assert.deepEqual(verifyResultMessage(result), expected));
  }
});
