#!/usr/bin/env python3
"""Renders Proofwright's test chat templates with Hugging Face transformers, as golden strings.

Inputs (written by hand for the tests, not copied from any model):
  model/tests/fixtures/chat_templates/templates/*.jinja   templates in the style of real ones
  model/tests/fixtures/chat_templates/conversations.json  the conversations to render
Output:
  model/tests/fixtures/chat_templates/goldens.json        what transformers rendered, or raised

Each case renders one template over one conversation with a fixture checkpoint's tokenizer
(which supplies bos_token, eos_token, ...), exactly as `tokenizer.apply_chat_template(messages,
chat_template=TEMPLATE, tokenize=False, add_generation_prompt=..., **variables)` does. The Rust
test model/tests/chat_template_goldens.rs renders the same cases and requires identical text.

Not run by CI. Usage (CPU only, no torch needed):
  python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-chat-templates.txt
  .venv/bin/python scripts/make_chat_template_goldens.py
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import transformers
from transformers import AutoTokenizer

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO_ROOT / "model" / "tests" / "fixtures"
CHAT_DIR = FIXTURES_DIR / "chat_templates"
TEMPLATES_DIR = CHAT_DIR / "templates"

QWEN_TOKENIZER = "qwen3-default-f32-legacy"
LLAMA_TOKENIZER = "llama-default-f32-v5"

# template file -> (tokenizer fixture, list of extra-variable sets rendered for every conversation)
TEMPLATE_SETUPS: dict[str, tuple[str, list[dict]]] = {
    "qwen2.5-style.jinja": (QWEN_TOKENIZER, [{}]),
    "qwen3-style.jinja": (QWEN_TOKENIZER, [{}, {"enable_thinking": False}]),
    "deepseek-v3-style.jinja": (
        LLAMA_TOKENIZER,
        [{}, {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}],
    ),
    "llama3-style.jinja": (LLAMA_TOKENIZER, [{"date_string": "01 Jan 2025"}]),
    "alternating-roles.jinja": (LLAMA_TOKENIZER, [{}]),
    "python-methods.jinja": (QWEN_TOKENIZER, [{}]),
    "special-tokens.jinja": (LLAMA_TOKENIZER, [{}]),
}
# The special-token template is also rendered with every other fixture tokenizer style, since
# which tokens reach a template depends on tokenizer_config.json.
EXTRA_SPECIAL_TOKEN_TOKENIZERS = [QWEN_TOKENIZER]


def render(tokenizer, template: str, messages: list[dict], add_generation_prompt: bool, variables: dict) -> dict:
    try:
        text = tokenizer.apply_chat_template(
            messages,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            **variables,
        )
    except jinja2.exceptions.TemplateError as error:
        # raise_exception raises exactly TemplateError; its subclasses are engine errors.
        kind = "raised" if type(error) is jinja2.exceptions.TemplateError else type(error).__name__
        return {"error": {"kind": kind, "message": str(error)}}
    return {"text": text}


def main() -> None:
    conversations = json.loads((CHAT_DIR / "conversations.json").read_text(encoding="utf-8"))["conversations"]
    tokenizers = {}
    cases = []
    setups = [(name, fixture, variable_sets) for name, (fixture, variable_sets) in TEMPLATE_SETUPS.items()]
    setups += [("special-tokens.jinja", fixture, [{}]) for fixture in EXTRA_SPECIAL_TOKEN_TOKENIZERS]
    for template_name, fixture, variable_sets in setups:
        template = (TEMPLATES_DIR / template_name).read_text(encoding="utf-8")
        if fixture not in tokenizers:
            tokenizers[fixture] = AutoTokenizer.from_pretrained(FIXTURES_DIR / fixture)
        tokenizer = tokenizers[fixture]
        for variables in variable_sets:
            for conversation_name, messages in conversations.items():
                for add_generation_prompt in (True, False):
                    outcome = render(tokenizer, template, messages, add_generation_prompt, variables)
                    cases.append(
                        {
                            "template": template_name,
                            "tokenizer_fixture": fixture,
                            "conversation": conversation_name,
                            "add_generation_prompt": add_generation_prompt,
                            "variables": variables,
                            **outcome,
                        }
                    )
    goldens = {
        "made_by": "scripts/make_chat_template_goldens.py",
        "transformers_version": transformers.__version__,
        "jinja2_version": jinja2.__version__,
        "cases": cases,
    }
    out_path = CHAT_DIR / "goldens.json"
    out_path.write_text(json.dumps(goldens, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n_errors = sum("error" in case for case in cases)
    print(f"wrote {len(cases)} cases ({n_errors} errors) to {out_path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
