"""One `proofwright serve` session driven by pytest-lsp, a third-party LSP client (built on
pygls and lsprotocol), so that the protocol is checked by code this project did not write: its
types parse every answer, and its checks fail the test when an answer uses something the client
did not declare (a documentation format, progress without the capability, ...).

The session runs twice, with the capabilities VS Code and Emacs (eglot) declare. The binary is
$PROOFWRIGHT_BINARY, else target/debug/proofwright; the model is the random-weight fixture.
"""

import asyncio
import os
import pathlib
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("PROOFWRIGHT_BINARY", str(ROOT / "target" / "debug" / "proofwright"))
MODEL = ROOT / "model" / "tests" / "fixtures" / "qwen2-default-f32-v5-sharded"
SETTINGS = {
    "model": str(MODEL),
    "template": "completion",
    "samples": 2,
    "rounds": 0,
    "maxNewTokens": 12,
    "lean": "off",
    "debounceMs": 0,
    "threads": 1,
}
# How long to wait for a status notification: far past the server's 100 ms rate limit.
STATUS_WAIT_STEPS = 200
STATUS_WAIT_STEP_SECONDS = 0.05
URI = "file:///virtual/ThirdParty.lean"
TEXT = "theorem add_comm' (a b : Nat) : a + b = b + a := by\n  rw [Nat.add_comm]\n"
SORRY_URI = "file:///virtual/ThirdPartySorry.lean"
SORRY_TEXT = "theorem demo (a b : Nat) : a + b = b + a := by\n  sorry\n"
# No Lean and no home: the server must not find a toolchain; the fixture needs no network.
SERVER_ENVIRONMENT = {"PATH": "", "HF_HUB_OFFLINE": "1", "PROOFWRIGHT_LOG": "warn"}


@pytest_lsp.fixture(
    params=["visual-studio-code", "emacs"],
    config=ClientServerConfig(
        server_command=[BINARY, "serve", "--stdio"],
        server_env=SERVER_ENVIRONMENT,
    ),
)
async def client(request, lsp_client: LanguageClient):
    lsp_client.set_configuration(SETTINGS, section="proofwright")
    lsp_client.statuses = []

    # pytest-lsp's client does not know these two; an editor answers the first and may show the
    # second in a status bar.
    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def code_lens_refresh(params):
        return None

    @lsp_client.feature("proofwright/status")
    def status_changed(params):
        lsp_client.statuses.append(params)

    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            initialization_options=SETTINGS,
        )
    )
    assert result.server_info.name == "proofwright"
    yield
    await lsp_client.shutdown_session()


async def wait_for_diagnostics(client: LanguageClient, uri: str):
    while uri not in client.diagnostics:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return client.diagnostics[uri]


async def test_a_session_through_a_third_party_client(client: LanguageClient):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=URI, language_id="lean4", version=1, text=TEXT)
        )
    )
    diagnostics = await wait_for_diagnostics(client, URI)
    assert [(d.source, d.code, d.severity) for d in diagnostics] == [
        ("proofwright", "flagged-step", types.DiagnosticSeverity.Warning)
    ]
    assert diagnostics[0].range == types.Range(
        start=types.Position(line=1, character=2), end=types.Position(line=1, character=19)
    )

    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(line=1, character=4),
        )
    )
    assert "Step score" in hover.contents.value

    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert [lens.command.title for lens in lenses] == ["proofwright: 1 flagged"]

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(
                start=types.Position(line=1, character=4), end=types.Position(line=1, character=4)
            ),
            context=types.CodeActionContext(diagnostics=list(diagnostics)),
        )
    )
    assert [action.title for action in actions] == [
        "Refine this step",
        "Replace with an alternative",
        "Verify this proof",
    ]

    typed = TEXT + "  s"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=typed)],
        )
    )
    completion = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(line=2, character=3),
        )
    )
    items = completion if isinstance(completion, list) else completion.items
    assert items, "the model proposed next steps"
    assert all(item.detail.startswith("proofwright 0.") for item in items)

    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="proofwright.status", arguments=[])
    )
    assert status["model"]["state"] == "ready"
    assert status["lean"]["state"] == "off"
    # Status notifications are rate-limited (one per 100 ms), so the one saying "ready" may
    # still be on its way when the command already says so.
    for _ in range(STATUS_WAIT_STEPS):
        if any(update.model.state == "ready" for update in client.statuses):
            break
        await asyncio.sleep(STATUS_WAIT_STEP_SECONDS)
    assert any(update.model.state == "ready" for update in client.statuses), client.statuses

    # A search with work-done progress; the noise model finds nothing worth inserting.
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=SORRY_URI, language_id="lean4", version=1, text=SORRY_TEXT
            )
        )
    )
    proved = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="proofwright.prove",
            arguments=[{"uri": SORRY_URI, "position": {"line": 1, "character": 3}}],
        )
    )
    assert proved["applied"] is False
    assert proved["provenance"] == "flagged"
    reports = [report for token_reports in client.progress_reports.values() for report in token_reports]
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)

    # Bad input through the client's own types: an answer, not a dead server.
    with pytest.raises(Exception, match="past the end of the document"):
        await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=URI),
                position=types.Position(line=50, character=0),
            )
        )
    still_there = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="proofwright.status", arguments=[])
    )
    assert still_there["model"]["state"] == "ready"
