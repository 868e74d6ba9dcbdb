// Unit tests for the mapping from `proofwright.*` VS Code settings to the server's settings object.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ServerSettingKey, didChangeConfigurationParams, serverSettingsFromConfiguration } from "../../src/settings";

/** The defaults package.json declares, as VS Code hands them over when the user set nothing. */
const PACKAGE_JSON_DEFAULTS: Record<ServerSettingKey, unknown> = {
  model: "",
  template: "auto",
  device: "auto",
  threads: null,
  samples: 4,
  rounds: 2,
  maxNewTokens: 256,
  seed: 0,
  temperature: 0.8,
  verifier: "fast",
  verifierThreshold: null,
  lean: "auto",
  debounceMs: 500,
  timeBudgetSeconds: 120,
};

function read(overrides: Partial<Record<ServerSettingKey, unknown>>): (key: ServerSettingKey) => unknown {
  const values = { ...PACKAGE_JSON_DEFAULTS, ...overrides };
  return (key) => values[key];
}

describe("serverSettingsFromConfiguration", () => {
  it("passes the defaults on, leaving out an empty model so the server picks its own", () => {
    const result = serverSettingsFromConfiguration(read({}));
    assert.deepEqual(result, {
      settings: {
        template: "auto",
        device: "auto",
        threads: null,
        samples: 4,
        rounds: 2,
        maxNewTokens: 256,
        seed: 0,
        temperature: 0.8,
        verifier: "fast",
        verifierThreshold: null,
        lean: "auto",
        debounceMs: 500,
        timeBudgetSeconds: 120,
      },
      problems: [],
    });
  });

  it("passes every user value on under the server's key names", () => {
    const result = serverSettingsFromConfiguration(
      read({
        model: "  /models/Kimina-Prover-Distill-1.7B ",
        template: "chat",
        device: "cuda",
        threads: 8,
        samples: 16,
        rounds: 0,
        maxNewTokens: 1024,
        seed: 7,
        temperature: 0,
        verifier: "deep",
        verifierThreshold: 0.35,
        lean: "require",
        debounceMs: 0,
        timeBudgetSeconds: 2.5,
      }),
    );
    assert.deepEqual(result, {
      settings: {
        model: "/models/Kimina-Prover-Distill-1.7B",
        template: "chat",
        device: "cuda",
        threads: 8,
        samples: 16,
        rounds: 0,
        maxNewTokens: 1024,
        seed: 7,
        temperature: 0,
        verifier: "deep",
        verifierThreshold: 0.35,
        lean: "require",
        debounceMs: 0,
        timeBudgetSeconds: 2.5,
      },
      problems: [],
    });
  });

  it("leaves out keys VS Code has no value for", () => {
    const result = serverSettingsFromConfiguration((key) => (key === "samples" ? 3 : undefined));
    assert.deepEqual(result, { settings: { samples: 3 }, problems: [] });
  });

  const badValues: Array<[ServerSettingKey, unknown, string]> = [
    ["device", "tpu", 'expected one of "auto", "cpu", "cuda", found "tpu"'],
    ["verifier", 3, 'expected one of "fast", "deep", found 3'],
    ["lean", null, 'expected one of "auto", "off", "require", found null'],
    ["threads", 0, "expected a number of at least 1, found 0"],
    ["threads", 2.5, "expected a whole number, found 2.5"],
    ["samples", null, "expected a number, found null"],
    ["samples", "4", 'expected a number, found "4"'],
    ["rounds", -1, "expected a number of at least 0, found -1"],
    ["seed", Number.NaN, "expected a number, found NaN"],
    ["template", "fim", 'expected one of "auto", "completion", "chat", found "fim"'],
    ["temperature", -0.5, "expected a number of at least 0, found -0.5"],
    ["verifierThreshold", 1.5, "expected a number from 0 to 1, found 1.5"],
    ["timeBudgetSeconds", 0, "expected a number above 0, found 0"],
    ["model", ["a"], "expected text, found a list"],
    ["debounceMs", { ms: 1 }, "expected a number, found an object"],
  ];
  for (const [key, value, message] of badValues) {
    it(`names a bad ${key} (${JSON.stringify(value) ?? String(value)}) and leaves it out`, () => {
      const result = serverSettingsFromConfiguration(read({ [key]: value }));
      assert.deepEqual(result.problems, [{ setting: `proofwright.${key}`, message }]);
      assert.equal(key in result.settings, false);
    });
  }
});

describe("didChangeConfigurationParams", () => {
  it("nests the settings under settings.proofwright", () => {
    assert.deepEqual(didChangeConfigurationParams({ samples: 2, lean: "off" }), {
      settings: { proofwright: { samples: 2, lean: "off" } },
    });
  });
});
