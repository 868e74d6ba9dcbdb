// Reads the server's status payload (`proofwright.status` / `proofwright/status`, docs/lsp.md) and
// turns it into the status bar item's text and tooltip.
//
// Pure: no `vscode` import, so the Node test runner can check it outside the editor.

export type ModelState = "loading" | "ready" | "failed" | "none";
export type LeanState = "available" | "unavailable" | "off";

export interface ServerStatus {
  readonly model: { readonly spec: string; readonly state: ModelState; readonly message: string | null };
  readonly device: string;
  readonly lean: { readonly state: LeanState; readonly message: string | null };
  readonly queue: { readonly running: number; readonly waiting: number };
}

export type ParsedStatus = { readonly ok: true; readonly status: ServerStatus } | { readonly ok: false; readonly message: string };

const MODEL_STATES: readonly ModelState[] = ["loading", "ready", "failed", "none"];
const LEAN_STATES: readonly LeanState[] = ["available", "unavailable", "off"];

/** Checks the shape of a status payload; a wrong one is named, never trusted. */
export function parseServerStatus(payload: unknown): ParsedStatus {
  if (!isRecord(payload)) {
    return { ok: false, message: "the server's status is not an object" };
  }
  const model = payload.model;
  if (!isRecord(model) || typeof model.spec !== "string" || !MODEL_STATES.includes(model.state as ModelState)) {
    return { ok: false, message: "the server's status has no valid \"model\" (spec and state)" };
  }
  const lean = payload.lean;
  if (!isRecord(lean) || !LEAN_STATES.includes(lean.state as LeanState)) {
    return { ok: false, message: "the server's status has no valid \"lean\" state" };
  }
  if (typeof payload.device !== "string") {
    return { ok: false, message: "the server's status has no \"device\"" };
  }
  const queue = payload.queue;
  const running = isRecord(queue) && typeof queue.running === "number" ? queue.running : 0;
  const waiting = isRecord(queue) && typeof queue.waiting === "number" ? queue.waiting : 0;
  return {
    ok: true,
    status: {
      model: { spec: model.spec, state: model.state as ModelState, message: optionalText(model.message) },
      device: payload.device,
      lean: { state: lean.state as LeanState, message: optionalText(lean.message) },
      queue: { running, waiting },
    },
  };
}

export type StatusSeverity = "normal" | "warning" | "error";

export interface StatusBarPresentation {
  /** The item's text, with VS Code's `$(icon)` syntax. */
  readonly text: string;
  /** Plain-text tooltip, one fact a line. */
  readonly tooltip: string;
  readonly severity: StatusSeverity;
}

/** What the status bar shows before the server has said anything. */
export function startingPresentation(): StatusBarPresentation {
  return { text: "$(loading~spin) Proofwright", tooltip: "Proofwright: starting the server", severity: "normal" };
}

/** What the status bar shows when the server cannot run (binary missing, crashed, stopped). */
export function failedPresentation(message: string): StatusBarPresentation {
  return { text: "$(error) Proofwright", tooltip: `Proofwright: ${message}`, severity: "error" };
}

export function statusBarPresentation(status: ServerStatus): StatusBarPresentation {
  const busy = status.queue.running + status.queue.waiting > 0;
  const parts = [modelLabel(status), status.device, leanLabel(status.lean.state)];
  let icon = "$(check)";
  let severity: StatusSeverity = "normal";
  if (status.model.state === "failed") {
    icon = "$(error)";
    severity = "error";
  } else if (status.model.state === "loading") {
    icon = "$(loading~spin)";
  } else if (status.model.state === "none") {
    icon = "$(warning)";
    severity = "warning";
  } else if (busy) {
    icon = "$(sync~spin)";
  }
  if (busy) {
    parts.push(queueLabel(status.queue.running, status.queue.waiting));
  }
  const tooltipLines = [
    `Model: ${status.model.spec === "" ? "(none)" : status.model.spec} (${status.model.state})`,
    ...(status.model.message ? [`  ${status.model.message}`] : []),
    `Device: ${status.device}`,
    `Lean: ${status.lean.state}`,
    ...(status.lean.message ? [`  ${status.lean.message}`] : []),
    `Searches: ${status.queue.running} running, ${status.queue.waiting} waiting`,
  ];
  return { text: `${icon} Proofwright: ${parts.join(" · ")}`, tooltip: tooltipLines.join("\n"), severity };
}

/** The short name of a model spec: the last part of a directory path or a repo id. */
export function shortModelName(spec: string): string {
  const parts = spec.split(/[\\/]/).filter((part) => part !== "");
  return parts.length === 0 ? spec : parts[parts.length - 1];
}

function modelLabel(status: ServerStatus): string {
  switch (status.model.state) {
    case "none":
      return "no model";
    case "failed":
      return `${shortModelName(status.model.spec)} failed`;
    case "loading":
      return `loading ${shortModelName(status.model.spec)}`;
    case "ready":
      return shortModelName(status.model.spec);
  }
}

function leanLabel(state: LeanState): string {
  switch (state) {
    case "available":
      return "Lean";
    case "unavailable":
      return "no Lean";
    case "off":
      return "Lean off";
  }
}

function queueLabel(running: number, waiting: number): string {
  return waiting > 0 ? `${running} running, ${waiting} waiting` : `${running} running`;
}

function optionalText(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
