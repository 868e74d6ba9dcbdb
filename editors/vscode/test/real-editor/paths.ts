// Where the real-editor test finds what it runs: the server binary, the model, code-server,
// Chromium and the packaged extensions. Each can be overridden by an environment variable.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The extension's folder (editors/vscode), from out/test/real-editor. */
export const EXTENSION_ROOT = path.resolve(__dirname, "..", "..", "..");
export const REPOSITORY_ROOT = path.resolve(EXTENSION_ROOT, "..", "..");

/** The demo checkpoint the server should use, and the fallback while it is not in the repository. */
const TINY_PROVER_MODEL = path.join(REPOSITORY_ROOT, "tests", "fixtures", "tiny-prover");
const FALLBACK_MODEL = path.join(REPOSITORY_ROOT, "model", "tests", "fixtures", "qwen2-default-f32-v5-sharded");

export interface RealEditorPaths {
  readonly proofwrightBinary: string;
  readonly model: string;
  readonly codeServer: string;
  readonly chromium: string;
  readonly proofwrightVsix: string;
  readonly lean4StandInVsix: string;
  readonly fixtureWorkspace: string;
  /** Screenshots and logs of the last run, kept for reading after a failure. */
  readonly artifacts: string;
}

export function editorTestCache(): string {
  return process.env.PROOFWRIGHT_EDITOR_TEST_CACHE ?? path.join(os.homedir(), ".cache", "proofwright-editor-tests");
}

export function realEditorPaths(): RealEditorPaths {
  return {
    proofwrightBinary: process.env.PROOFWRIGHT_BINARY ?? path.join(REPOSITORY_ROOT, "target", "debug", "proofwright"),
    model: process.env.PROOFWRIGHT_TEST_MODEL ?? (fs.existsSync(TINY_PROVER_MODEL) ? TINY_PROVER_MODEL : FALLBACK_MODEL),
    codeServer:
      process.env.PROOFWRIGHT_CODE_SERVER ?? path.join(editorTestCache(), "code-server", "node_modules", ".bin", "code-server"),
    chromium: process.env.PROOFWRIGHT_CHROMIUM ?? "/usr/bin/chromium",
    proofwrightVsix: process.env.PROOFWRIGHT_VSIX ?? path.join(EXTENSION_ROOT, "proofwright.vsix"),
    lean4StandInVsix:
      process.env.PROOFWRIGHT_LEAN4_STAND_IN_VSIX ??
      path.join(EXTENSION_ROOT, "test", "lean4-language-stand-in", "lean4-language-stand-in.vsix"),
    fixtureWorkspace: path.join(EXTENSION_ROOT, "..", "fixtures", "workspace"),
    artifacts: process.env.PROOFWRIGHT_TEST_ARTIFACTS ?? path.join(EXTENSION_ROOT, "out", "real-editor-artifacts"),
  };
}

/** Names every path that is missing, with the step that makes it, so a failure says what to do. */
export function missingPaths(paths: RealEditorPaths): string[] {
  const checks: Array<[string, string]> = [
    [paths.proofwrightBinary, "build it with `cargo build -p proofwright` or set PROOFWRIGHT_BINARY"],
    [paths.model, "set PROOFWRIGHT_TEST_MODEL to a model directory"],
    [paths.codeServer, "run scripts/install-editor-test-deps or set PROOFWRIGHT_CODE_SERVER"],
    [paths.chromium, "run scripts/install-editor-test-deps (Debian's chromium) or set PROOFWRIGHT_CHROMIUM"],
    [paths.proofwrightVsix, "run `npm run package` in editors/vscode or set PROOFWRIGHT_VSIX"],
    [paths.lean4StandInVsix, "run scripts/test-editors, which packages the stand-in, or set PROOFWRIGHT_LEAN4_STAND_IN_VSIX"],
  ];
  return checks.filter(([candidate]) => !fs.existsSync(candidate)).map(([candidate, fix]) => `${candidate} is missing: ${fix}`);
}
