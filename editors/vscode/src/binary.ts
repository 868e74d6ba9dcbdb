// Finds the `proofwright` executable: the `proofwright.binaryPath` setting, else a search of PATH.
//
// Pure apart from the `isExecutableFile` probe the caller passes, so tests can run it on fake file systems.

import * as path from "node:path";

export const BINARY_PATH_SETTING = "proofwright.binaryPath";
export const BINARY_NAME = "proofwright";

export interface BinaryLookupInput {
  /** The `proofwright.binaryPath` setting, as the user wrote it ("" when unset). */
  readonly configuredPath: string;
  /** The PATH environment variable (undefined when unset). */
  readonly pathVariable: string | undefined;
  /** `process.platform`. */
  readonly platform: NodeJS.Platform;
  /** The first workspace folder, against which a relative `binaryPath` is resolved. */
  readonly workspaceFolder: string | undefined;
  /** The user's home directory, for a `binaryPath` that starts with `~/`. */
  readonly homeDirectory: string;
  /** PATHEXT on Windows (undefined elsewhere). */
  readonly pathExtVariable?: string | undefined;
  /** Whether `candidate` is a file this user may execute. */
  readonly isExecutableFile: (candidate: string) => boolean;
}

export type BinaryLookup =
  | { readonly found: true; readonly path: string; readonly source: "setting" | "PATH" }
  | { readonly found: false; readonly message: string };

/** Where to read about installing the server; shown in the "not found" message. */
export const INSTALL_HINT = "build it with `cargo install --path server` from the Proofwright repository";

export function findServerBinary(input: BinaryLookupInput): BinaryLookup {
  const pathModule = input.platform === "win32" ? path.win32 : path.posix;
  const configured = input.configuredPath.trim();
  if (configured !== "") {
    const expanded = expandHome(configured, input.homeDirectory, pathModule);
    if (!pathModule.isAbsolute(expanded) && input.workspaceFolder === undefined) {
      return {
        found: false,
        message: `${BINARY_PATH_SETTING} is the relative path "${configured}" but no folder is open: set it to an absolute path`,
      };
    }
    const resolved = pathModule.isAbsolute(expanded) ? expanded : pathModule.resolve(input.workspaceFolder ?? "", expanded);
    if (input.isExecutableFile(resolved)) {
      return { found: true, path: resolved, source: "setting" };
    }
    return {
      found: false,
      message: `${BINARY_PATH_SETTING} points to "${resolved}", which is not an executable file: fix the setting or clear it to search PATH`,
    };
  }

  const directories = (input.pathVariable ?? "").split(pathModule.delimiter).filter((directory) => directory !== "");
  const names = executableNames(input.platform, input.pathExtVariable);
  for (const directory of directories) {
    for (const name of names) {
      const candidate = pathModule.join(directory, name);
      if (input.isExecutableFile(candidate)) {
        return { found: true, path: candidate, source: "PATH" };
      }
    }
  }
  return {
    found: false,
    message: `the Proofwright server "${BINARY_NAME}" was not found on PATH: ${INSTALL_HINT}, or set ${BINARY_PATH_SETTING} to its full path`,
  };
}

function expandHome(configured: string, homeDirectory: string, pathModule: typeof path.posix): string {
  if (configured === "~") {
    return homeDirectory;
  }
  if (configured.startsWith("~/") || configured.startsWith("~\\")) {
    return pathModule.join(homeDirectory, configured.slice(2));
  }
  return configured;
}

function executableNames(platform: NodeJS.Platform, pathExtVariable: string | undefined): string[] {
  if (platform !== "win32") {
    return [BINARY_NAME];
  }
  const extensions = (pathExtVariable ?? ".EXE;.CMD;.BAT").split(";").filter((extension) => extension !== "");
  return extensions.map((extension) => BINARY_NAME + extension.toLowerCase());
}
