// Real-editor test: VS Code (code-server) in headless Chromium with the packaged extension and the
// real `proofwright serve`. Opens a Lean file, waits for a Proofwright diagnostic, runs the
// "Prove this sorry" code action and checks that the file's text changed.

import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Browser, Page, chromium } from "playwright-core";

import { shortModelName } from "../../src/status";
import { RealEditorPaths, missingPaths, realEditorPaths } from "./paths";

const LOOPBACK = "127.0.0.1";
const FIXTURE_FILE = "Proofs.lean";
const SORRY = "sorry";
const LINE_COMMENT = "--";
const PROVE_ACTION_TITLE = "Prove this sorry";
/** How many entries of the code action menu to walk through looking for the prove action. */
const MAX_CODE_ACTION_ENTRIES = 20;
const PROOFWRIGHT_EXTENSION_ID = "proofwright.proofwright";
const LEAN4_STAND_IN_EXTENSION_ID = "proofwright-tests.lean4-language-stand-in";

const EXTENSION_INSTALL_TIMEOUT_MS = 120_000;
const CODE_SERVER_START_TIMEOUT_MS = 60_000;
const WORKBENCH_LOAD_TIMEOUT_MS = 90_000;
/** Model loading plus one background verification by a debug build on 2 cores. */
const DIAGNOSTIC_TIMEOUT_MS = 240_000;
/** One search (settings below keep it small) by a debug build on 2 cores. */
const PROVE_TIMEOUT_MS = 300_000;
const UI_STEP_TIMEOUT_MS = 30_000;
const SAVE_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 250;
const PROCESS_STOP_TIMEOUT_MS = 10_000;
/** The whole suite: install, start, wait for a diagnostic, prove. */
const SUITE_TIMEOUT_MS = 15 * 60_000;

/** Chromium flags for this machine: headless as root, no sandbox, no calls to outside hosts. */
const CHROMIUM_ARGUMENTS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** User settings: the server under test, kept small and deterministic, and no editor chatter. */
function userSettings(paths: RealEditorPaths): Record<string, unknown> {
  return {
    "proofwright.binaryPath": paths.proofwrightBinary,
    "proofwright.model": paths.model,
    "proofwright.device": "cpu",
    "proofwright.threads": 2,
    "proofwright.samples": 2,
    "proofwright.rounds": 1,
    "proofwright.maxNewTokens": 16,
    // Far above the tiny prover's calibrated threshold (0.001, its proofwright.json), so that the
    // fixture's steps are flagged and a Proofwright diagnostic appears.
    "proofwright.verifierThreshold": 0.5,
    "proofwright.seed": 0,
    "proofwright.lean": "off",
    "proofwright.debounceMs": 100,
    "proofwright.timeBudgetSeconds": 120,
    "proofwright.trace.server": "messages",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "security.workspace.trust.enabled": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "extensions.ignoreRecommendations": true,
    "editor.minimap.enabled": false,
    "files.autoSave": "off",
    "chat.disableAIFeatures": true,
    "git.enabled": false,
    "git.openRepositoryInParentFolders": "never",
  };
}

describe("Proofwright in VS Code (code-server + Chromium)", { timeout: SUITE_TIMEOUT_MS }, () => {
  const paths = realEditorPaths();
  const userDataDirectory = path.join(paths.artifacts, "user-data");
  const extensionsDirectory = path.join(paths.artifacts, "extensions");
  const workspace = path.join(paths.artifacts, "workspace");
  const fixturePath = path.join(workspace, FIXTURE_FILE);
  let originalText = "";
  let codeServer: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let failed = false;

  before(async () => {
    const missing = missingPaths(paths);
    assert.deepEqual(missing, [], `the real-editor test cannot run:\n${missing.join("\n")}`);
    fs.rmSync(paths.artifacts, { recursive: true, force: true });
    fs.mkdirSync(path.join(userDataDirectory, "User"), { recursive: true });
    fs.mkdirSync(extensionsDirectory, { recursive: true });
    fs.cpSync(paths.fixtureWorkspace, workspace, { recursive: true });
    originalText = fs.readFileSync(fixturePath, "utf8");
    fs.writeFileSync(path.join(userDataDirectory, "User", "settings.json"), JSON.stringify(userSettings(paths), null, 2));
  });

  after(async () => {
    if (page !== undefined && failed) {
      await page.screenshot({ path: path.join(paths.artifacts, "failure.png") }).catch(() => undefined);
    }
    await browser?.close().catch(() => undefined);
    if (codeServer !== undefined) {
      await stopProcessGroup(codeServer);
    }
  });

  it("installs the packaged extension and the lean4 stand-in", () => {
    const result = spawnSync(
      paths.codeServer,
      [
        ...codeServerDirectoryArguments(),
        "--install-extension",
        paths.lean4StandInVsix,
        "--install-extension",
        paths.proofwrightVsix,
      ],
      { encoding: "utf8", timeout: EXTENSION_INSTALL_TIMEOUT_MS },
    );
    fs.writeFileSync(path.join(paths.artifacts, "install-extensions.log"), `${result.stdout}\n${result.stderr}`);
    assert.equal(result.status, 0, `code-server --install-extension failed:\n${result.stdout}\n${result.stderr}`);
    const listed = spawnSync(paths.codeServer, [...codeServerDirectoryArguments(), "--list-extensions"], {
      encoding: "utf8",
      timeout: EXTENSION_INSTALL_TIMEOUT_MS,
    });
    const extensionIds = listed.stdout
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("["))
      .sort();
    assert.deepEqual(extensionIds, [LEAN4_STAND_IN_EXTENSION_ID, PROOFWRIGHT_EXTENSION_ID].sort());
  });

  it("shows a Proofwright diagnostic on the opened Lean file", { timeout: SUITE_TIMEOUT_MS }, async (context) => {
    failed = true;
    const port = await freePort();
    codeServer = spawn(
      paths.codeServer,
      [
        ...codeServerDirectoryArguments(),
        "--auth",
        "none",
        "--bind-addr",
        `${LOOPBACK}:${port}`,
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        "--config",
        path.join(paths.artifacts, "code-server-config.yaml"),
        workspace,
      ],
      { detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    const serverLog = fs.createWriteStream(path.join(paths.artifacts, "code-server.log"));
    codeServer.stdout?.pipe(serverLog);
    codeServer.stderr?.pipe(serverLog);
    await waitForHttp(`http://${LOOPBACK}:${port}/healthz`, CODE_SERVER_START_TIMEOUT_MS);

    browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGUMENTS });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("console", (message) => fs.appendFileSync(path.join(paths.artifacts, "browser-console.log"), `${message.text()}\n`));
    await page.goto(`http://${LOOPBACK}:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator(".monaco-workbench").waitFor({ timeout: WORKBENCH_LOAD_TIMEOUT_MS });
    await page.locator(".explorer-folders-view, .welcome-view, .monaco-workbench .part.sidebar").first().waitFor({
      timeout: WORKBENCH_LOAD_TIMEOUT_MS,
    });

    await openFileWithQuickOpen(page, FIXTURE_FILE);
    await page.locator(".monaco-editor .view-lines").first().waitFor({ timeout: UI_STEP_TIMEOUT_MS });
    await page.screenshot({ path: path.join(paths.artifacts, "opened.png") });

    await page.keyboard.press("Control+Shift+M");
    const markerRow = page.locator(".markers-panel .monaco-list-row", { hasText: "proofwright" }).first();
    await markerRow.waitFor({ timeout: DIAGNOSTIC_TIMEOUT_MS });
    const markerText = (await markerRow.innerText()).replace(/\s+/g, " ");
    context.diagnostic(`first Proofwright diagnostic: ${markerText}`);
    assert.match(markerText, /proofwright/);
    await page.screenshot({ path: path.join(paths.artifacts, "diagnostic.png") });

    // The status bar item shows what the server reported: the model's short name, the device, Lean.
    const statusItem = page.locator(".statusbar-item", { hasText: "Proofwright:" }).first();
    await statusItem.waitFor({ timeout: UI_STEP_TIMEOUT_MS });
    const statusText = (await statusItem.innerText()).replace(/\s+/g, " ");
    context.diagnostic(`status bar: ${statusText}`);
    assert.ok(statusText.includes(shortModelName(paths.model)), `the status bar should name the model: ${statusText}`);
    failed = false;
  });

  it('"Prove this sorry" changes the text', { timeout: SUITE_TIMEOUT_MS }, async () => {
    failed = true;
    assert.ok(page !== undefined, "the previous step opened no page");
    const sorryPosition = positionOf(originalText, SORRY);
    await focusEditor(page);
    await goToLine(page, sorryPosition.line, sorryPosition.column);
    await page.keyboard.press("Control+.");
    await page.locator(".action-widget .monaco-list-row", { hasText: PROVE_ACTION_TITLE }).first().waitFor({ timeout: UI_STEP_TIMEOUT_MS });
    await page.screenshot({ path: path.join(paths.artifacts, "code-actions.png") });
    await chooseFocusedMenuEntry(page, PROVE_ACTION_TITLE);

    const textBefore = await editorText(page);
    await waitUntil(async () => (await editorText(page!)) !== textBefore, PROVE_TIMEOUT_MS, "the editor's text to change");
    await page.screenshot({ path: path.join(paths.artifacts, "proved.png") });

    await focusEditor(page);
    await page.keyboard.press("Control+S");
    await waitUntil(async () => fs.readFileSync(fixturePath, "utf8") !== originalText, SAVE_TIMEOUT_MS, "the saved file to change");
    const savedText = fs.readFileSync(fixturePath, "utf8");
    fs.writeFileSync(path.join(paths.artifacts, "after-prove.lean"), savedText);
    const originalLines = originalText.split("\n");
    const sorryLineNow = savedText.split("\n")[sorryPosition.line - 1] ?? "";
    assert.notEqual(savedText, originalText);
    assert.equal(
      savedText.split("\n").slice(0, sorryPosition.line - 1).join("\n"),
      originalLines.slice(0, sorryPosition.line - 1).join("\n"),
      "the text before the sorry should be untouched",
    );
    assert.ok(
      !sorryLineNow.slice(sorryPosition.column - 1).startsWith(SORRY),
      `the sorry should be replaced, line ${sorryPosition.line} is now: ${sorryLineNow}`,
    );
    failed = false;
  });

  it('"Proofwright: Verify This Proof" reports the verdict', { timeout: SUITE_TIMEOUT_MS }, async () => {
    failed = true;
    assert.ok(page !== undefined, "the previous steps opened no page");
    await focusEditor(page);
    await runCommandFromPalette(page, "Proofwright: Verify This Proof");
    const verdict = page.locator(".notifications-toasts .notification-toast", { hasText: "Proofwright verify:" }).first();
    await verdict.waitFor({ timeout: PROVE_TIMEOUT_MS });
    const verdictText = (await verdict.innerText()).replace(/\s+/g, " ");
    assert.match(verdictText, /Proofwright verify: (verified by Lean|neural score|flagged by the verifier|no proof found)/);
    await page.screenshot({ path: path.join(paths.artifacts, "verified.png") });
    failed = false;
  });

  it("says what to fix when proofwright.binaryPath points to nothing", { timeout: SUITE_TIMEOUT_MS }, async () => {
    failed = true;
    assert.ok(page !== undefined, "the previous steps opened no page");
    const missingBinary = path.join(paths.artifacts, "no-such-proofwright");
    // A workspace setting (VS Code watches the folder's files): changing binaryPath restarts the
    // server, which now cannot start.
    fs.mkdirSync(path.join(workspace, ".vscode"), { recursive: true });
    fs.writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify({ "proofwright.binaryPath": missingBinary }));
    const notification = page.locator(".notifications-toasts .notification-toast", { hasText: "not an executable file" }).first();
    await notification.waitFor({ timeout: UI_STEP_TIMEOUT_MS });
    const notificationText = (await notification.innerText()).replace(/\s+/g, " ");
    assert.ok(notificationText.includes(missingBinary), `the message should name the path: ${notificationText}`);
    assert.ok(notificationText.includes("Open Settings"), `the message should offer Open Settings: ${notificationText}`);
    await page.screenshot({ path: path.join(paths.artifacts, "binary-missing.png") });
    failed = false;
  });

  function codeServerDirectoryArguments(): string[] {
    return ["--user-data-dir", userDataDirectory, "--extensions-dir", extensionsDirectory];
  }
});

/** 1-based line and column of the first `needle` outside a line comment, as Go to Line takes them. */
function positionOf(text: string, needle: string): { line: number; column: number } {
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index += 1) {
    const commentStart = lines[index].indexOf(LINE_COMMENT);
    const code = commentStart >= 0 ? lines[index].slice(0, commentStart) : lines[index];
    const column = code.indexOf(needle);
    if (column >= 0) {
      return { line: index + 1, column: column + 1 };
    }
  }
  throw new Error(`the fixture has no "${needle}"`);
}

async function openFileWithQuickOpen(page: Page, fileName: string): Promise<void> {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ timeout: UI_STEP_TIMEOUT_MS });
  await input.fill(fileName);
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: fileName }).first().waitFor({ timeout: UI_STEP_TIMEOUT_MS });
  await page.keyboard.press("Enter");
  await page.locator(".tabs-container .tab", { hasText: fileName }).first().waitFor({ timeout: UI_STEP_TIMEOUT_MS });
}

/** Moves the code action menu's focus down to the entry titled `title` and chooses it, as a keyboard user does. */
async function chooseFocusedMenuEntry(page: Page, title: string): Promise<void> {
  for (let step = 0; step < MAX_CODE_ACTION_ENTRIES; step += 1) {
    const focused = page.locator(".action-widget .monaco-list-row.focused");
    if ((await focused.count()) > 0 && (await focused.first().innerText()).includes(title)) {
      await page.keyboard.press("Enter");
      return;
    }
    await page.keyboard.press("ArrowDown");
  }
  throw new Error(`the code action menu has no focusable entry "${title}"`);
}

async function runCommandFromPalette(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ timeout: UI_STEP_TIMEOUT_MS });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first().waitFor({ timeout: UI_STEP_TIMEOUT_MS });
  await page.keyboard.press("Enter");
}

async function focusEditor(page: Page): Promise<void> {
  await page.locator(".monaco-editor .view-lines").first().click();
}

async function goToLine(page: Page, line: number, column: number): Promise<void> {
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ timeout: UI_STEP_TIMEOUT_MS });
  await input.fill(`:${line}:${column}`);
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: UI_STEP_TIMEOUT_MS });
}

/** The text the editor shows (the fixture fits on one screen), with VS Code's non-breaking spaces made plain. */
async function editorText(page: Page): Promise<string> {
  const text = await page.locator(".monaco-editor .view-lines").first().innerText();
  return text.replace(/\u00a0/g, " ");
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  await waitUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const request = http.get(url, (response) => {
          response.resume();
          resolve(response.statusCode === 200);
        });
        request.on("error", () => resolve(false));
      }),
    timeoutMs,
    `${url} to answer`,
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Ends code-server and everything it started (extension host, language servers). */
async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(-child.pid, "SIGTERM");
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), PROCESS_STOP_TIMEOUT_MS)),
  ]);
  if (timedOut) {
    process.kill(-child.pid, "SIGKILL");
  }
}
