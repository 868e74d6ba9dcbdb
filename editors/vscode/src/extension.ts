// The Proofwright VS Code extension: runs `proofwright serve` beside Lean's own server on `lean4`
// documents and gives it commands, a status bar item and an output channel.

import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

import { BINARY_PATH_SETTING, findServerBinary } from "./binary";
import { EXTENSION_COMMANDS, SERVER_COMMANDS, UserMessage, positionArguments, searchResultMessage, verifyResultMessage } from "./requests";
import {
  CONFIGURATION_SECTION,
  ServerSettings,
  didChangeConfigurationParams,
  serverSettingsFromConfiguration,
} from "./settings";
import {
  StatusBarPresentation,
  failedPresentation,
  parseServerStatus,
  startingPresentation,
  statusBarPresentation,
} from "./status";

const LEAN_LANGUAGE_ID = "lean4";
const OUTPUT_CHANNEL_NAME = "Proofwright";
const TRACE_CHANNEL_NAME = "Proofwright Trace";
const CLIENT_ID = "proofwright";
const CLIENT_NAME = "Proofwright";
const SERVE_ARGUMENTS = ["serve"];
const STATUS_NOTIFICATION = "proofwright/status";
/** Higher sits further left among the right-aligned items; Lean's own items stay to our right. */
const STATUS_BAR_PRIORITY = 100;
const OPEN_SETTINGS_ACTION = "Open Settings";
const SHOW_LOG_ACTION = "Show Log";

let extensionState: ExtensionState | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const outputChannel = vscode.window.createOutputChannel(OUTPUT_CHANNEL_NAME);
  const traceChannel = vscode.window.createOutputChannel(TRACE_CHANNEL_NAME);
  const statusBarItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, STATUS_BAR_PRIORITY);
  statusBarItem.name = "Proofwright";
  statusBarItem.command = EXTENSION_COMMANDS.showStatus;
  context.subscriptions.push(outputChannel, traceChannel, statusBarItem);

  const state = new ExtensionState(outputChannel, traceChannel, statusBarItem);
  extensionState = state;

  context.subscriptions.push(
    vscode.commands.registerCommand(EXTENSION_COMMANDS.proveSorryAtCursor, () =>
      state.runSearchAtCursor(SERVER_COMMANDS.prove, "prove"),
    ),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.refineStepAtCursor, () =>
      state.runSearchAtCursor(SERVER_COMMANDS.refine, "refine"),
    ),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.verifyProofAtCursor, () => state.verifyAtCursor()),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.showStatus, () => state.showStatus()),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.restartServer, () => state.restart()),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.showLog, () => outputChannel.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => state.configurationChanged(event)),
  );

  await state.start();
}

export async function deactivate(): Promise<void> {
  await extensionState?.stop();
  extensionState = undefined;
}

class ExtensionState {
  private client: LanguageClient | undefined;
  private lastFailure: string | undefined;

  constructor(
    private readonly outputChannel: vscode.OutputChannel,
    private readonly traceChannel: vscode.OutputChannel,
    private readonly statusBarItem: vscode.StatusBarItem,
  ) {}

  async start(): Promise<void> {
    this.showPresentation(startingPresentation());
    const lookup = findServerBinary({
      configuredPath: vscode.workspace.getConfiguration(CONFIGURATION_SECTION).get<string>("binaryPath", ""),
      pathVariable: process.env.PATH,
      pathExtVariable: process.env.PATHEXT,
      platform: process.platform,
      workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      homeDirectory: os.homedir(),
      isExecutableFile,
    });
    if (!lookup.found) {
      this.fail(lookup.message);
      const choice = await vscode.window.showErrorMessage(`Proofwright: ${lookup.message}`, OPEN_SETTINGS_ACTION);
      if (choice === OPEN_SETTINGS_ACTION) {
        await vscode.commands.executeCommand("workbench.action.openSettings", BINARY_PATH_SETTING);
      }
      return;
    }
    this.outputChannel.appendLine(`[proofwright] starting ${lookup.path} ${SERVE_ARGUMENTS.join(" ")} (found via ${lookup.source})`);

    const serverOptions: ServerOptions = {
      command: lookup.path,
      args: SERVE_ARGUMENTS,
      transport: TransportKind.stdio,
      options: { cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { language: LEAN_LANGUAGE_ID, scheme: "file" },
        { language: LEAN_LANGUAGE_ID, scheme: "untitled" },
      ],
      initializationOptions: this.currentSettings(),
      outputChannel: this.outputChannel,
      traceOutputChannel: this.traceChannel,
      middleware: {
        workspace: {
          // The server asks for the `proofwright` section; answer with the checked settings object,
          // not VS Code's raw section (which also holds client-only keys such as binaryPath).
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) {
              return answers;
            }
            return params.items.map((item, index) =>
              item.section === CONFIGURATION_SECTION ? this.currentSettings() : answers[index],
            );
          },
        },
      },
    };
    const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((change) => {
      if (change.newState === State.Stopped && this.client === client) {
        this.fail("the server stopped: see the Proofwright output channel, then run Proofwright: Restart Server");
      }
    });
    try {
      await client.start();
    } catch (error) {
      this.fail(`the server did not start: ${errorText(error)}`);
      void this.offerLog(`Proofwright: the server did not start: ${errorText(error)}`);
      return;
    }
    this.lastFailure = undefined;
    client.onNotification(STATUS_NOTIFICATION, (payload: unknown) => this.statusReceived(payload));
    try {
      this.statusReceived(await this.executeServerCommand(SERVER_COMMANDS.status, []));
    } catch (error) {
      this.outputChannel.appendLine(`[proofwright] ${SERVER_COMMANDS.status} failed: ${errorText(error)}`);
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined && client.isRunning()) {
      await client.stop();
    }
    await client?.dispose();
  }

  async restart(): Promise<void> {
    this.outputChannel.appendLine("[proofwright] restarting the server");
    await this.stop();
    await this.start();
  }

  async configurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (event.affectsConfiguration(BINARY_PATH_SETTING)) {
      await this.restart();
      return;
    }
    if (!event.affectsConfiguration(CONFIGURATION_SECTION) || this.client === undefined || !this.client.isRunning()) {
      return;
    }
    await this.client.sendNotification(DidChangeConfigurationNotification.type, didChangeConfigurationParams(this.currentSettings()));
  }

  async runSearchAtCursor(serverCommand: string, action: string): Promise<void> {
    const target = this.cursorTarget();
    if (target === undefined) {
      return;
    }
    const result = await this.withProgress(`Proofwright: ${action}`, () =>
      this.executeServerCommand(serverCommand, positionArguments(target.uri, target.position)),
    );
    if (result.ok) {
      await showUserMessage(searchResultMessage(action, result.value));
    }
  }

  async verifyAtCursor(): Promise<void> {
    const target = this.cursorTarget();
    if (target === undefined) {
      return;
    }
    const result = await this.withProgress("Proofwright: verify", () =>
      this.executeServerCommand(SERVER_COMMANDS.verify, positionArguments(target.uri, target.position)),
    );
    if (result.ok) {
      await showUserMessage(verifyResultMessage(result.value));
    }
  }

  async showStatus(): Promise<void> {
    if (this.client === undefined || !this.client.isRunning()) {
      await this.offerLog(`Proofwright: ${this.lastFailure ?? "the server is not running"}`);
      return;
    }
    try {
      const payload = await this.executeServerCommand(SERVER_COMMANDS.status, []);
      const parsed = parseServerStatus(payload);
      if (!parsed.ok) {
        await this.offerLog(`Proofwright: ${parsed.message}`);
        return;
      }
      const presentation = statusBarPresentation(parsed.status);
      this.showPresentation(presentation);
      this.outputChannel.appendLine(`[proofwright] status\n${presentation.tooltip}`);
      await vscode.window.showInformationMessage(presentation.tooltip.replace(/\n\s*/g, "; "), { modal: false });
    } catch (error) {
      await this.offerLog(`Proofwright: ${SERVER_COMMANDS.status} failed: ${errorText(error)}`);
    }
  }

  private currentSettings(): ServerSettings {
    const configuration = vscode.workspace.getConfiguration(CONFIGURATION_SECTION);
    const result = serverSettingsFromConfiguration((key) => configuration.get(key));
    for (const problem of result.problems) {
      const text = `Proofwright: ${problem.setting}: ${problem.message}; the server keeps its default`;
      this.outputChannel.appendLine(`[proofwright] ${text}`);
      void vscode.window.showWarningMessage(text);
    }
    return result.settings;
  }

  private cursorTarget(): { uri: string; position: { line: number; character: number } } | undefined {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || editor.document.languageId !== LEAN_LANGUAGE_ID) {
      void vscode.window.showWarningMessage("Proofwright: open a Lean file and put the cursor on a proof first");
      return undefined;
    }
    if (this.client === undefined || !this.client.isRunning()) {
      void this.offerLog(`Proofwright: ${this.lastFailure ?? "the server is not running"}`);
      return undefined;
    }
    const active = editor.selection.active;
    return {
      uri: this.client.code2ProtocolConverter.asUri(editor.document.uri),
      position: { line: active.line, character: active.character },
    };
  }

  private async executeServerCommand(command: string, commandArguments: unknown[]): Promise<unknown> {
    if (this.client === undefined) {
      throw new Error("the server is not running");
    }
    return this.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: commandArguments });
  }

  private async withProgress(
    title: string,
    work: () => Promise<unknown>,
  ): Promise<{ ok: true; value: unknown } | { ok: false }> {
    try {
      const value = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, work);
      return { ok: true, value };
    } catch (error) {
      await this.offerLog(`${title} failed: ${errorText(error)}`);
      return { ok: false };
    }
  }

  private statusReceived(payload: unknown): void {
    const parsed = parseServerStatus(payload);
    if (parsed.ok) {
      this.showPresentation(statusBarPresentation(parsed.status));
    } else {
      this.outputChannel.appendLine(`[proofwright] ignored a status update: ${parsed.message}`);
    }
  }

  private fail(message: string): void {
    this.lastFailure = message;
    this.outputChannel.appendLine(`[proofwright] ${message}`);
    this.showPresentation(failedPresentation(message));
  }

  private showPresentation(presentation: StatusBarPresentation): void {
    this.statusBarItem.text = presentation.text;
    this.statusBarItem.tooltip = presentation.tooltip;
    this.statusBarItem.backgroundColor =
      presentation.severity === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : presentation.severity === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
    this.statusBarItem.show();
  }

  private async offerLog(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, SHOW_LOG_ACTION);
    if (choice === SHOW_LOG_ACTION) {
      this.outputChannel.show(true);
    }
  }
}

async function showUserMessage(message: UserMessage): Promise<void> {
  switch (message.level) {
    case "information":
      await vscode.window.showInformationMessage(message.text);
      return;
    case "warning":
      await vscode.window.showWarningMessage(message.text);
      return;
    case "error":
      await vscode.window.showErrorMessage(message.text);
      return;
  }
}

function isExecutableFile(candidate: string): boolean {
  try {
    if (!fs.statSync(candidate).isFile()) {
      return false;
    }
    fs.accessSync(candidate, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
