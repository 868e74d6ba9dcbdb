// Turns the `proofwright.*` VS Code settings into the server's settings object (docs/lsp.md, "Settings").
//
// Pure: no `vscode` import, so the Node test runner can check it outside the editor.

/** The keys of the server's settings object, with the VS Code setting type each one has. */
export const SERVER_SETTING_KEYS = [
  "model",
  "template",
  "device",
  "threads",
  "samples",
  "rounds",
  "maxNewTokens",
  "seed",
  "temperature",
  "verifier",
  "verifierThreshold",
  "lean",
  "debounceMs",
  "timeBudgetSeconds",
] as const;

export type ServerSettingKey = (typeof SERVER_SETTING_KEYS)[number];

/** The settings object sent as initializationOptions and in workspace/didChangeConfiguration. */
export type ServerSettings = Partial<Record<ServerSettingKey, string | number | null>>;

/** A setting whose value the extension cannot pass on; the server then keeps its default. */
export interface SettingProblem {
  /** The full VS Code setting name, e.g. `proofwright.samples`. */
  readonly setting: string;
  readonly message: string;
}

export interface ServerSettingsResult {
  readonly settings: ServerSettings;
  readonly problems: readonly SettingProblem[];
}

/** The VS Code configuration section that holds every Proofwright setting. */
export const CONFIGURATION_SECTION = "proofwright";

const TEMPLATE_VALUES = ["auto", "completion", "chat"] as const;
const DEVICE_VALUES = ["auto", "cpu", "cuda"] as const;
const VERIFIER_VALUES = ["fast", "deep"] as const;
const LEAN_VALUES = ["auto", "off", "require"] as const;

type Rule =
  | { readonly kind: "text"; readonly emptyMeansDefault: boolean }
  | { readonly kind: "choice"; readonly values: readonly string[] }
  | {
      readonly kind: "number";
      readonly integer: boolean;
      readonly minimum: number;
      readonly maximum: number;
      readonly nullable: boolean;
    };

const RULES: Record<ServerSettingKey, Rule> = {
  model: { kind: "text", emptyMeansDefault: true },
  template: { kind: "choice", values: TEMPLATE_VALUES },
  device: { kind: "choice", values: DEVICE_VALUES },
  threads: { kind: "number", integer: true, minimum: 1, maximum: Number.MAX_SAFE_INTEGER, nullable: true },
  samples: { kind: "number", integer: true, minimum: 1, maximum: Number.MAX_SAFE_INTEGER, nullable: false },
  rounds: { kind: "number", integer: true, minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: false },
  maxNewTokens: { kind: "number", integer: true, minimum: 1, maximum: Number.MAX_SAFE_INTEGER, nullable: false },
  seed: { kind: "number", integer: true, minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: false },
  temperature: { kind: "number", integer: false, minimum: 0, maximum: Number.MAX_VALUE, nullable: false },
  verifier: { kind: "choice", values: VERIFIER_VALUES },
  verifierThreshold: { kind: "number", integer: false, minimum: 0, maximum: 1, nullable: true },
  lean: { kind: "choice", values: LEAN_VALUES },
  debounceMs: { kind: "number", integer: true, minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: false },
  timeBudgetSeconds: {
    kind: "number",
    integer: false,
    minimum: Number.MIN_VALUE,
    maximum: Number.MAX_SAFE_INTEGER,
    nullable: false,
  },
};

/**
 * Reads every server setting through `readSetting` (the key without the `proofwright.` prefix;
 * `undefined` when the user has not set it and there is no default) and returns the object to send.
 * A value the server would reject is left out, so the server keeps its default, and named in `problems`.
 */
export function serverSettingsFromConfiguration(readSetting: (key: ServerSettingKey) => unknown): ServerSettingsResult {
  const settings: ServerSettings = {};
  const problems: SettingProblem[] = [];
  for (const key of SERVER_SETTING_KEYS) {
    const value = readSetting(key);
    if (value === undefined) {
      continue;
    }
    const checked = checkValue(RULES[key], value);
    if (checked.ok) {
      if (checked.value !== undefined) {
        settings[key] = checked.value;
      }
    } else {
      problems.push({ setting: `${CONFIGURATION_SECTION}.${key}`, message: checked.message });
    }
  }
  return { settings, problems };
}

type Checked = { ok: true; value: string | number | null | undefined } | { ok: false; message: string };

function checkValue(rule: Rule, value: unknown): Checked {
  switch (rule.kind) {
    case "text": {
      if (typeof value !== "string") {
        return { ok: false, message: `expected text, found ${describe(value)}` };
      }
      const trimmed = value.trim();
      return { ok: true, value: trimmed === "" && rule.emptyMeansDefault ? undefined : trimmed };
    }
    case "choice": {
      if (typeof value !== "string" || !rule.values.includes(value)) {
        return { ok: false, message: `expected one of ${rule.values.map((v) => `"${v}"`).join(", ")}, found ${describe(value)}` };
      }
      return { ok: true, value };
    }
    case "number": {
      if (value === null) {
        return rule.nullable ? { ok: true, value: null } : { ok: false, message: "expected a number, found null" };
      }
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return { ok: false, message: `expected a number, found ${describe(value)}` };
      }
      if (rule.integer && !Number.isInteger(value)) {
        return { ok: false, message: `expected a whole number, found ${value}` };
      }
      if (value < rule.minimum || value > rule.maximum) {
        return { ok: false, message: `expected a number ${describeRange(rule.minimum, rule.maximum)}, found ${value}` };
      }
      return { ok: true, value };
    }
  }
}

function describeRange(minimum: number, maximum: number): string {
  if (minimum === Number.MIN_VALUE) {
    return "above 0";
  }
  if (maximum === Number.MAX_SAFE_INTEGER || maximum === Number.MAX_VALUE) {
    return `of at least ${minimum}`;
  }
  return `from ${minimum} to ${maximum}`;
}

function describe(value: unknown): string {
  if (value === null) {
    return "null";
  }
  if (typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return Array.isArray(value) ? "a list" : typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** The payload of workspace/didChangeConfiguration: `{"settings": {"proofwright": {...}}}`. */
export function didChangeConfigurationParams(settings: ServerSettings): { settings: { proofwright: ServerSettings } } {
  return { settings: { proofwright: settings } };
}
