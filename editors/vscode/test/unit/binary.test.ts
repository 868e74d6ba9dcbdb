// Unit tests for finding the `proofwright` executable from the setting or PATH.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { BinaryLookupInput, findServerBinary } from "../../src/binary";

function input(overrides: Partial<BinaryLookupInput>, executables: string[]): BinaryLookupInput {
  return {
    configuredPath: "",
    pathVariable: "/usr/local/bin:/usr/bin",
    platform: "linux",
    workspaceFolder: "/home/ada/proofs",
    homeDirectory: "/home/ada",
    isExecutableFile: (candidate) => executables.includes(candidate),
    ...overrides,
  };
}

describe("findServerBinary", () => {
  it("uses the first PATH directory holding proofwright", () => {
    assert.deepEqual(findServerBinary(input({}, ["/usr/bin/proofwright", "/opt/proofwright"])), {
      found: true,
      path: "/usr/bin/proofwright",
      source: "PATH",
    });
  });

  it("prefers the setting over PATH", () => {
    assert.deepEqual(
      findServerBinary(input({ configuredPath: "/opt/pw/proofwright" }, ["/opt/pw/proofwright", "/usr/bin/proofwright"])),
      { found: true, path: "/opt/pw/proofwright", source: "setting" },
    );
  });

  it("resolves a relative setting against the workspace folder", () => {
    assert.deepEqual(
      findServerBinary(input({ configuredPath: "target/debug/proofwright" }, ["/home/ada/proofs/target/debug/proofwright"])),
      { found: true, path: "/home/ada/proofs/target/debug/proofwright", source: "setting" },
    );
  });

  it("expands ~ in the setting", () => {
    assert.deepEqual(findServerBinary(input({ configuredPath: "~/.cargo/bin/proofwright" }, ["/home/ada/.cargo/bin/proofwright"])), {
      found: true,
      path: "/home/ada/.cargo/bin/proofwright",
      source: "setting",
    });
  });

  it("names the setting when it points to nothing, without falling back to PATH", () => {
    assert.deepEqual(findServerBinary(input({ configuredPath: "/opt/missing" }, ["/usr/bin/proofwright"])), {
      found: false,
      message:
        'proofwright.binaryPath points to "/opt/missing", which is not an executable file: fix the setting or clear it to search PATH',
    });
  });

  it("refuses a relative setting when no folder is open", () => {
    assert.deepEqual(findServerBinary(input({ configuredPath: "bin/proofwright", workspaceFolder: undefined }, [])), {
      found: false,
      message: 'proofwright.binaryPath is the relative path "bin/proofwright" but no folder is open: set it to an absolute path',
    });
  });

  it("says how to install when PATH has no proofwright", () => {
    assert.deepEqual(findServerBinary(input({ pathVariable: undefined }, [])), {
      found: false,
      message:
        'the Proofwright server "proofwright" was not found on PATH: build it with `cargo install --path server` from the Proofwright repository, or set proofwright.binaryPath to its full path',
    });
  });

  it("tries PATHEXT's extensions on Windows", () => {
    assert.deepEqual(
      findServerBinary(
        input({ platform: "win32", pathVariable: "C:\\tools;C:\\cargo\\bin", pathExtVariable: ".COM;.EXE" }, [
          "C:\\cargo\\bin\\proofwright.exe",
        ]),
      ),
      { found: true, path: "C:\\cargo\\bin\\proofwright.exe", source: "PATH" },
    );
  });
});
