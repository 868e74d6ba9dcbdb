// The server's workspace/executeCommand commands (docs/lsp.md, "Commands"): their arguments and how
// their results are told to the user.
//
// Pure: no `vscode` import, so the Node test runner can check it outside the editor.

/** Commands the server runs, by the ids it registers. */
export const SERVER_COMMANDS = {
  prove: "proofwright.prove",
  refine: "proofwright.refine",
  alternative: "proofwright.alternative",
  verify: "proofwright.verify",
  status: "proofwright.status",
} as const;

/** Commands the extension contributes (package.json); distinct from the server's own ids. */
export const EXTENSION_COMMANDS = {
  proveSorryAtCursor: "proofwright.proveSorryAtCursor",
  refineStepAtCursor: "proofwright.refineStepAtCursor",
  verifyProofAtCursor: "proofwright.verifyProofAtCursor",
  showStatus: "proofwright.showStatus",
  restartServer: "proofwright.restartServer",
  showLog: "proofwright.showLog",
} as const;

export interface LspPosition {
  readonly line: number;
  readonly character: number;
}

/** The one argument of prove / refine / alternative / verify. */
export function positionArguments(uri: string, position: LspPosition): [{ uri: string; position: LspPosition }] {
  return [{ uri, position: { line: position.line, character: position.character } }];
}

export type Provenance = "lean-verified" | "neural" | "flagged" | "unproved";
const PROVENANCES: readonly Provenance[] = ["lean-verified", "neural", "flagged", "unproved"];

export type MessageLevel = "information" | "warning" | "error";

export interface UserMessage {
  readonly level: MessageLevel;
  readonly text: string;
}

/** What to tell the user after prove / refine / alternative answered `result`. */
export function searchResultMessage(action: string, result: unknown): UserMessage {
  if (!isRecord(result)) {
    return { level: "error", text: `Proofwright: the server's answer to ${action} is not an object` };
  }
  const provenance = PROVENANCES.includes(result.provenance as Provenance) ? (result.provenance as Provenance) : undefined;
  const serverMessage = typeof result.message === "string" && result.message !== "" ? result.message : undefined;
  const applied = result.applied === true;
  const facts = [provenanceLabel(provenance, numberOrNull(result.score))];
  if (applied) {
    facts.push("applied");
  }
  const summary = `Proofwright ${action}: ${facts.join(", ")}`;
  const text = serverMessage ? `${summary}. ${serverMessage}` : summary;
  const level: MessageLevel = provenance === "lean-verified" || provenance === "neural" ? "information" : "warning";
  return { level, text };
}

/** What to tell the user after verify answered `result`. */
export function verifyResultMessage(result: unknown): UserMessage {
  if (!isRecord(result)) {
    return { level: "error", text: "Proofwright: the server's answer to verify is not an object" };
  }
  const provenance = PROVENANCES.includes(result.provenance as Provenance) ? (result.provenance as Provenance) : undefined;
  const flagged = Array.isArray(result.flagged) ? result.flagged.length : 0;
  const facts = [provenanceLabel(provenance, numberOrNull(result.score))];
  if (flagged > 0) {
    facts.push(`${flagged} flagged ${flagged === 1 ? "step" : "steps"} (see the Problems panel)`);
  }
  const level: MessageLevel = provenance === "lean-verified" ? "information" : "warning";
  return { level, text: `Proofwright verify: ${facts.join(", ")}` };
}

function provenanceLabel(provenance: Provenance | undefined, score: number | null): string {
  switch (provenance) {
    case "lean-verified":
      return "verified by Lean";
    case "neural":
      return score === null ? "neural score only, not checked by Lean" : `neural score ${score.toFixed(2)}, not checked by Lean`;
    case "flagged":
      return score === null ? "flagged by the verifier" : `flagged by the verifier (score ${score.toFixed(2)})`;
    case "unproved":
      return "no proof found";
    case undefined:
      return "unknown result";
  }
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
