// Unit tests for reading the server's status payload and turning it into the status bar item.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseServerStatus, shortModelName, statusBarPresentation } from "../../src/status";

const READY_IDLE = {
  model: { spec: "/models/Goedel-Prover-V2-8B", state: "ready", message: null },
  device: "cuda:0",
  lean: { state: "available", message: "lake serve 4.22.0" },
  queue: { running: 0, waiting: 0 },
};

describe("statusBarPresentation", () => {
  const cases: Array<[string, unknown, { text: string; tooltip: string; severity: string }]> = [
    [
      "ready and idle",
      READY_IDLE,
      {
        text: "$(check) Proofwright: Goedel-Prover-V2-8B · cuda:0 · Lean",
        tooltip:
          "Model: /models/Goedel-Prover-V2-8B (ready)\nDevice: cuda:0\nLean: available\n  lake serve 4.22.0\nSearches: 0 running, 0 waiting",
        severity: "normal",
      },
    ],
    [
      "searching with a queue",
      { ...READY_IDLE, queue: { running: 1, waiting: 2 } },
      {
        text: "$(sync~spin) Proofwright: Goedel-Prover-V2-8B · cuda:0 · Lean · 1 running, 2 waiting",
        tooltip:
          "Model: /models/Goedel-Prover-V2-8B (ready)\nDevice: cuda:0\nLean: available\n  lake serve 4.22.0\nSearches: 1 running, 2 waiting",
        severity: "normal",
      },
    ],
    [
      "loading a repo id without Lean",
      {
        model: { spec: "AI-MO/Kimina-Prover-Distill-1.7B", state: "loading", message: null },
        device: "cpu",
        lean: { state: "unavailable", message: "no lake on PATH" },
        queue: { running: 0, waiting: 0 },
      },
      {
        text: "$(loading~spin) Proofwright: loading Kimina-Prover-Distill-1.7B · cpu · no Lean",
        tooltip:
          "Model: AI-MO/Kimina-Prover-Distill-1.7B (loading)\nDevice: cpu\nLean: unavailable\n  no lake on PATH\nSearches: 0 running, 0 waiting",
        severity: "normal",
      },
    ],
    [
      "a model that failed to load",
      {
        model: { spec: "/models/broken", state: "failed", message: "config.json: missing field hidden_size" },
        device: "cpu",
        lean: { state: "off", message: null },
        queue: { running: 0, waiting: 0 },
      },
      {
        text: "$(error) Proofwright: broken failed · cpu · Lean off",
        tooltip:
          "Model: /models/broken (failed)\n  config.json: missing field hidden_size\nDevice: cpu\nLean: off\nSearches: 0 running, 0 waiting",
        severity: "error",
      },
    ],
    [
      "no model configured",
      {
        model: { spec: "", state: "none", message: "set proofwright.model" },
        device: "cpu",
        lean: { state: "available", message: null },
        queue: { running: 0, waiting: 0 },
      },
      {
        text: "$(warning) Proofwright: no model · cpu · Lean",
        tooltip: "Model: (none) (none)\n  set proofwright.model\nDevice: cpu\nLean: available\nSearches: 0 running, 0 waiting",
        severity: "warning",
      },
    ],
  ];
  for (const [name, payload, expected] of cases) {
    it(name, () => {
      const parsed = parseServerStatus(payload);
      assert.ok(parsed.ok, "the payload should parse");
      assert.deepEqual(statusBarPresentation(parsed.status), expected);
    });
  }
});

describe("parseServerStatus", () => {
  const broken: Array<[string, unknown, string]> = [
    ["not an object", "ready", "the server's status is not an object"],
    ["a list", [], "the server's status is not an object"],
    ["no model", { ...READY_IDLE, model: undefined }, 'the server\'s status has no valid "model" (spec and state)'],
    [
      "an unknown model state",
      { ...READY_IDLE, model: { spec: "m", state: "warming" } },
      'the server\'s status has no valid "model" (spec and state)',
    ],
    ["an unknown Lean state", { ...READY_IDLE, lean: { state: "yes" } }, 'the server\'s status has no valid "lean" state'],
    ["no device", { ...READY_IDLE, device: 0 }, 'the server\'s status has no "device"'],
  ];
  for (const [name, payload, message] of broken) {
    it(`names ${name}`, () => {
      assert.deepEqual(parseServerStatus(payload), { ok: false, message });
    });
  }

  it("reads a missing queue as idle", () => {
    const parsed = parseServerStatus({ ...READY_IDLE, queue: undefined });
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.status.queue, { running: 0, waiting: 0 });
  });
});

describe("shortModelName", () => {
  const cases: Array<[string, string]> = [
    ["/models/qwen/", "qwen"],
    ["deepseek-ai/DeepSeek-Prover-V2-7B", "DeepSeek-Prover-V2-7B"],
    ["C:\\models\\prover", "prover"],
    ["plain", "plain"],
  ];
  for (const [spec, expected] of cases) {
    it(`${spec} -> ${expected}`, () => assert.equal(shortModelName(spec), expected));
  }
});
