#!/usr/bin/env python3
"""Trains the tiny demo prover checkpoint in tests/fixtures/tiny-prover/.

A Qwen2ForCausalLM of about 0.9M parameters learns, by heart, the hand-written Lean 4 proofs in
scripts/tiny-prover/corpus/*.lean, presented in the exact prompt formats of docs/prompts.md:
proposals (whole proofs and every proof prefix, with and without preceding declarations, an
import header and a goal comment), refinements after feedback, and deep reviews of correct and
deliberately broken proofs. It is useless on anything it has not seen; it exists so that the
prover loop, the language server and the editor tests show meaningful proposals.

Then it reloads the saved checkpoint in float32 and writes expected.json: transformers'
teacher-forced log-probabilities and greedy tokens for a few prompts, which
model/tests/tiny_prover.rs checks the Rust engine against.

Usage:  .venv/bin/python scripts/tiny-prover/train.py [--epochs N] [--out DIR]
Everything is seeded and runs on one CPU thread, so a rerun with the pinned versions in
scripts/tiny-prover/requirements.txt gives the same checkpoint on the same machine.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, Qwen2Config

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "fixtures" / "tiny-prover"

# ---------------------------------------------------------------------------------------------
# Every knob in one place
# ---------------------------------------------------------------------------------------------

SEED = 1729
N_THREADS = 1  # leave the other core to the people sharing the machine

TOKENIZER_BPE_VOCAB = 1023  # byte-level BPE tokens; the end-of-text token comes after them
END_OF_TEXT = "<|endoftext|>"
HIDDEN_SIZE = 128
INTERMEDIATE_SIZE = 384
N_LAYERS = 4
N_HEADS = 4
N_KV_HEADS = 2
MAX_POSITIONS = 2048
ROPE_THETA = 10000.0
RMS_NORM_EPS = 1e-6
GENERATION_MAX_NEW_TOKENS = 160

N_EPOCHS = 28
PEAK_LEARNING_RATE = 4e-3
FINAL_LEARNING_RATE_FRACTION = 0.05
WARMUP_STEPS = 100
BATCH_TOKENS = 2048  # padded tokens per optimizer step
GRADIENT_CLIP = 1.0
EVAL_EVERY_EPOCHS = 6
STOP_ACCURACY = 1.0  # stop early once every evaluation prompt is completed exactly
WALL_CLOCK_LIMIT_S = 30 * 60  # a safety net: about 12 minutes on an idle core, 20 on a busy one

# Prompt variants, as probabilities per training example.
P_PRECEDING_DECLARATIONS = 0.4  # the nearest declarations before the theorem in its file
P_OTHER_DECLARATIONS = 0.25  # declarations from anywhere in the corpus, as a user's file may hold
MAX_CONTEXT_DECLARATIONS = 3
P_SORRY_IN_CONTEXT = 0.3  # a context declaration whose proof (or one step of it) is `sorry`
P_IMPORT_HEADER = 0.4
P_GOAL_COMMENT = 0.4
P_LEAN_REASON = 0.5  # refinement reasons quoted from Lean rather than from the review
IMPORT_HEADERS = [
    "import Std",
    "import Examples.Recursion",
    "import Examples.Basic\nimport Examples.Recursion",
    "import Init.Data.List.Lemmas",
    "import Lean",
]

# The reference check (expected.json).
N_GREEDY_STEPS = 24
MIN_GREEDY_MARGIN = 0.05  # smallest allowed top-1 minus top-2 logit gap at a greedy step
SIZE_LIMIT_BYTES = 6 * 1024 * 1024

# ---------------------------------------------------------------------------------------------
# Prompt formats: docs/prompts.md, as server/src/prover/prompt.rs builds them
# ---------------------------------------------------------------------------------------------

COMPLETION_INSTRUCTION = "Complete the following Lean 4 code:"
CODE_FENCE_OPEN = "```lean4\n"
CODE_FENCE_CLOSE = "```"
REVIEW_INSTRUCTION = (
    'Review the following Lean 4 proof. List each issue on its own line starting with "- ", then '
    'give a final line "Score: 1" (correct), "Score: 0.5" (minor issues) or "Score: 0" (wrong).'
)
REVIEW_ANSWER_LEAD = "Issues:\n"
BLOCK_INDENT = 2


def proposal_prompt(context: str, declaration_prefix: str, feedback_comment: str = "") -> str:
    return f"{COMPLETION_INSTRUCTION}\n\n{CODE_FENCE_OPEN}{context}{feedback_comment}{declaration_prefix}"


def review_prompt(context: str, declaration: str) -> str:
    return (
        f"{REVIEW_INSTRUCTION}\n\n{CODE_FENCE_OPEN}{context}{declaration.rstrip()}\n"
        f"{CODE_FENCE_CLOSE}\n\n{REVIEW_ANSWER_LEAD}"
    )


def context_text(header: str | None, declarations: list[str]) -> str:
    text = ""
    if header:
        text += header.rstrip() + "\n\n"
    for declaration in declarations:
        text += declaration + "\n\n"
    return text


def with_goal_comment(prefix: str, goal: str) -> str:
    """Puts the goal comment before the insertion point's indentation (the prefix's last line)."""
    last_line_start = prefix.rfind("\n") + 1
    indentation = prefix[last_line_start:]
    assert indentation.strip() == "", prefix
    lines = [f"{indentation}/- tactic state:"]
    lines += [f"{indentation}{line}" for line in goal.split("\n")]
    lines.append(f"{indentation}-/")
    return prefix[:last_line_start] + "\n".join(lines) + "\n" + indentation


def feedback_comment(attempt: str, reasons: dict[int, str]) -> str:
    lines = ["/- An earlier attempt at this proof was rejected."]
    for line_idx, line in enumerate(attempt.split("\n")):
        lines.append("  " + line)
        if line_idx in reasons:
            lines.append("  -- ^ " + reasons[line_idx])
    lines.append("-/")
    return "\n".join(lines) + "\n"


def completion_of(rest_lines: list[str]) -> str:
    return "\n".join(rest_lines) + "\n" + CODE_FENCE_CLOSE


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------


@dataclass
class Declaration:
    file: str
    index: int  # position among the file's declarations
    text: str
    keyword: str
    name: str


@dataclass
class Theorem:
    declaration: Declaration
    signature: str  # the declaration up to its proof: ends with `:= by` (or `:=` for terms)
    body: list[str]  # the proof's lines, with their indentation
    term_proof: str | None  # for term-mode theorems, the term


def read_corpus() -> tuple[dict[str, list[Declaration]], list[Theorem]]:
    files: dict[str, list[Declaration]] = {}
    theorems: list[Theorem] = []
    names: set[str] = set()
    for path in sorted(CORPUS_DIR.glob("*.lean")):
        blocks = [block.strip("\n") for block in path.read_text(encoding="utf-8").split("\n\n")]
        declarations: list[Declaration] = []
        for block in blocks:
            if not block.strip() or block.startswith("/-!"):
                continue
            words = block.split()
            keyword, name = words[0], words[1]
            assert keyword in ("theorem", "def", "inductive"), f"{path.name}: unexpected block {block!r}"
            assert name not in names, f"{path.name}: {name} is declared twice in the corpus"
            names.add(name)
            declaration = Declaration(path.name, len(declarations), block, keyword, name)
            declarations.append(declaration)
            if keyword != "theorem":
                continue
            first_line, *rest = block.split("\n")
            if first_line.endswith(":= by"):
                assert rest and all(line.startswith("  ") for line in rest), f"{name}: bad body"
                theorems.append(Theorem(declaration, first_line, rest, None))
            else:
                assert not rest and " := " in first_line, f"{name}: term proofs must be one line"
                signature, term = first_line.rsplit(" := ", 1)
                theorems.append(Theorem(declaration, signature + " :=", [], term))
        files[path.name] = declarations
    return files, theorems


def tactic_signature(theorem: Theorem) -> str:
    """The declaration text up to and including `:= by`, as a whole-proof prompt shows it."""
    return theorem.signature if theorem.term_proof is None else theorem.signature + " by"


def tactic_body(theorem: Theorem) -> list[str]:
    return theorem.body if theorem.term_proof is None else [f"  exact {theorem.term_proof}"]


def goal_state(theorem: Theorem) -> str:
    """The tactic state at the start of the proof, as Lean would print it (close enough)."""
    signature = theorem.signature.removesuffix(" := by").removesuffix(" :=")
    rest = signature.split(" ", 2)[2] if signature.count(" ") >= 2 else ""
    hypotheses: list[tuple[list[str], str]] = []
    while rest.startswith(("(", "{", "[")):
        closing = {"(": ")", "{": "}", "[": "]"}[rest[0]]
        depth, end = 0, 0
        for end, char in enumerate(rest):
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
                if depth == 0:
                    break
        inner = rest[1:end]
        assert rest[end] == closing, signature
        names, binder_type = inner.split(" : ", 1)
        names_list = names.split()
        if hypotheses and hypotheses[-1][1] == binder_type:
            hypotheses[-1][0].extend(names_list)
        else:
            hypotheses.append((names_list, binder_type))
        rest = rest[end + 1 :].lstrip()
    assert rest.startswith(": "), signature
    conclusion = rest[2:]
    conclusion = re.sub(r"∀ ([\w ]+) : ([^,]+),", r"∀ (\1 : \2),", conclusion)
    conclusion = re.sub(r"∃ ([\w ]+) : ([^,]+),", r"∃ \1,", conclusion)
    conclusion = conclusion.replace("¬ ", "¬")
    lines = [f"{' '.join(names)} : {binder_type}" for names, binder_type in hypotheses]
    lines.append(f"⊢ {conclusion}")
    return "\n".join(lines)


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


ALTERNATIVE_INLINE = re.compile(r"^(\s*\| [^=]*=> )(\S.*)$")
TERM_AFTER_ASSIGN = re.compile(r"^(\s*(?:have |calc |_ ).*? := )(\S.*)$")
HAVE_BY_INLINE = re.compile(r"^(\s*have .* := )by (\S.*)$")


@dataclass
class InsertionPoint:
    prefix: str  # the declaration prefix the prompt ends with
    completion: str  # what the model must write: the rest of the proof and the closing fence
    kind: str  # "whole", "line", "inline", "by-inline"


def insertion_points(theorem: Theorem) -> list[InsertionPoint]:
    """Every place a prompt can end in this proof, with the rest of the proof after it."""
    signature, body = tactic_signature(theorem), tactic_body(theorem)
    points = []
    for line_idx, line in enumerate(body):
        before = [signature] + body[:line_idx]
        head = "\n".join(before) + "\n"
        rest_after = body[line_idx + 1 :]
        kind = "whole" if line_idx == 0 else "line"
        points.append(
            InsertionPoint(head + indentation(line), completion_of([line.lstrip(" ")] + rest_after), kind)
        )
        have_by = HAVE_BY_INLINE.match(line)
        if have_by:
            # `have h : t := by sorry` becomes a block one level deeper (prompt.rs's `by sorry` rule).
            block_indentation = indentation(line) + " " * BLOCK_INDENT
            points.append(
                InsertionPoint(
                    head + have_by.group(1) + "by\n" + block_indentation,
                    completion_of([have_by.group(2)] + rest_after),
                    "by-inline",
                )
            )
            continue
        inline = ALTERNATIVE_INLINE.match(line) or TERM_AFTER_ASSIGN.match(line)
        if inline:
            points.append(
                InsertionPoint(head + inline.group(1), completion_of([inline.group(2)] + rest_after), "inline")
            )
    return points


# ---------------------------------------------------------------------------------------------
# Broken proofs, for reviews and refinements
# ---------------------------------------------------------------------------------------------


@dataclass
class Corruption:
    body: list[str]  # the broken proof
    flagged_line: int  # body index of the line the complaint points at
    issue: str  # the review's issue line, without "- "
    lean_message: str  # what Lean would say there, roughly
    kind: str


LEMMA_NAME = re.compile(r"\b((?:Nat|List|Bool)\.[a-z_]+[a-z])\b")
WRONG_LEMMA = {
    "Nat.add_comm": "Nat.mul_comm",
    "Nat.mul_comm": "Nat.add_comm",
    "Nat.add_assoc": "Nat.mul_assoc",
    "Nat.mul_assoc": "Nat.add_assoc",
    "Nat.left_distrib": "Nat.right_distrib",
    "Nat.right_distrib": "Nat.left_distrib",
    "Nat.le_trans": "Nat.lt_trans",
    "Nat.lt_of_lt_of_le": "Nat.lt_of_le_of_lt",
    "Nat.le_antisymm": "Nat.le_trans",
    "Nat.zero_le": "Nat.le_refl",
    "Nat.lt_irrefl": "Nat.le_refl",
    "Nat.add_le_add": "Nat.add_lt_add",
    "Nat.succ_le_succ": "Nat.le_of_succ_le_succ",
    "Nat.le_of_lt": "Nat.le_refl",
    "Or.inl": "Or.inr",
    "Or.inr": "Or.inl",
}
CLOSING_TACTIC = re.compile(r"^(omega|simp|simp \[.*\]|simp only \[.*\]|rfl|exact .*)$")
ORDINALS = ["first", "second", "third", "fourth"]


def has_variables(theorem: Theorem) -> bool:
    return theorem.signature.split(" ", 2)[2].startswith(("(", "{", "["))


def decide_gets_stuck(theorem: Theorem) -> bool:
    """Whether `decide` must fail: the goal has variables its evaluation needs. Statements about
    `([] : List Nat)` evaluate without looking at their variables, so `decide` would succeed."""
    return has_variables(theorem) and "([] : List Nat)" not in theorem.signature


def block_end(body: list[str], start: int) -> int:
    """Index after the last line nested under body[start]."""
    depth = len(indentation(body[start]))
    end = start + 1
    while end < len(body) and len(indentation(body[end])) > depth:
        end += 1
    return end


def corruptions(theorem: Theorem) -> list[Corruption]:
    body = tactic_body(theorem)
    found: list[Corruption] = []
    base = len(indentation(body[0]))
    for line_idx, line in enumerate(body):
        stripped = line.strip()
        for name in LEMMA_NAME.findall(line):
            misspelled = name[:-1]
            broken = line.replace(name, misspelled, 1)
            found.append(
                Corruption(
                    body[:line_idx] + [broken] + body[line_idx + 1 :],
                    line_idx,
                    f"`{broken.strip()}`: unknown identifier `{misspelled}`",
                    f"unknown identifier '{misspelled}'",
                    "misspelled-lemma",
                )
            )
        for right, wrong in WRONG_LEMMA.items():
            if re.search(rf"(?<![\w.]){re.escape(right)}(?![\w'])", line):
                broken = re.sub(rf"(?<![\w.]){re.escape(right)}(?![\w'])", wrong, line, count=1)
                found.append(
                    Corruption(
                        body[:line_idx] + [broken] + body[line_idx + 1 :],
                        line_idx,
                        f"`{broken.strip()}`: `{wrong}` does not prove this goal; `{right}` does",
                        "type mismatch",
                        "wrong-lemma",
                    )
                )
                break
        top_level = len(indentation(line)) == base
        if top_level and decide_gets_stuck(theorem) and CLOSING_TACTIC.match(stripped):
            broken = indentation(line) + "decide"
            found.append(
                Corruption(
                    body[:line_idx] + [broken] + body[line_idx + 1 :],
                    line_idx,
                    "`decide`: the goal has free variables, so `decide` cannot evaluate it",
                    "tactic 'decide' failed: the goal contains free variables",
                    "wrong-tactic",
                )
            )
        elif top_level and not has_variables(theorem) and stripped in ("decide", "rfl"):
            broken = indentation(line) + "contradiction"
            found.append(
                Corruption(
                    body[:line_idx] + [broken] + body[line_idx + 1 :],
                    line_idx,
                    "`contradiction`: there is no contradictory hypothesis to close the goal with",
                    "tactic 'contradiction' failed",
                    "wrong-tactic",
                )
            )
        if stripped.endswith(" with") and stripped.startswith(("cases ", "induction ")):
            # The alternatives that directly follow this line, at its indentation, belong to it.
            own, expected = [], line_idx + 1
            while (
                expected < len(body)
                and indentation(body[expected]) == indentation(line)
                and body[expected].lstrip().startswith("| ")
            ):
                own.append(expected)
                expected = block_end(body, expected)
            if len(own) >= 2:
                last = own[-1]
                case_name = body[last].lstrip()[2:].split()[0]
                found.append(
                    Corruption(
                        body[:last] + body[block_end(body, last) :],
                        line_idx,
                        f"`{stripped}`: the `{case_name}` case is missing",
                        f"alternative '{case_name}' has not been provided",
                        "missing-case",
                    )
                )
        if stripped == "constructor":
            bullets, expected = [], line_idx + 1
            while expected < len(body) and body[expected].startswith(indentation(line) + "· "):
                bullets.append(expected)
                expected = block_end(body, expected)
            if len(bullets) >= 2:
                last = bullets[-1]
                found.append(
                    Corruption(
                        body[:last] + body[block_end(body, last) :],
                        line_idx,
                        f"`constructor`: the {ORDINALS[len(bullets) - 1]} goal is never proved",
                        "unsolved goals",
                        "missing-case",
                    )
                )
    top_level_steps = [
        idx
        for idx, line in enumerate(body)
        if len(indentation(line)) == base and not line.lstrip().startswith(("| ", "· "))
    ]
    if len(top_level_steps) >= 2:
        last = top_level_steps[-1]
        kept = top_level_steps[-2]
        found.append(
            Corruption(
                body[:last],
                kept,
                f"the proof stops after `{body[kept].strip()}` and leaves the goal unproved",
                "unsolved goals",
                "truncated",
            )
        )
    return found


# ---------------------------------------------------------------------------------------------
# Training examples
# ---------------------------------------------------------------------------------------------


@dataclass
class Example:
    prompt: str
    completion: str  # without the end-of-text token, which is appended after encoding
    kind: str
    theorem: str


def with_sorry(rng: random.Random, declaration: Declaration) -> str:
    """The declaration as a file being worked on holds it: its proof, or one step, is `sorry`."""
    first_line, *body = declaration.text.split("\n")
    if declaration.keyword != "theorem":
        return declaration.text
    if not body:
        return first_line.rsplit(" := ", 1)[0] + " := sorry"
    choice = rng.random()
    if choice < 1 / 3:
        return first_line + " sorry"
    if choice < 2 / 3 or len(body) == 1:
        return first_line + "\n  sorry"
    step = rng.randrange(1, len(body))
    return "\n".join([first_line] + body[:step] + [indentation(body[step]) + "sorry"] + body[block_end(body, step) :])


def sample_context(rng: random.Random, files, theorem: Theorem) -> str:
    header = rng.choice(IMPORT_HEADERS) if rng.random() < P_IMPORT_HEADER else None
    chosen: list[Declaration] = []
    n_declarations = rng.randint(1, MAX_CONTEXT_DECLARATIONS)
    choice = rng.random()
    if choice < P_PRECEDING_DECLARATIONS:
        index = theorem.declaration.index
        chosen = files[theorem.declaration.file][max(0, index - n_declarations) : index]
    elif choice < P_PRECEDING_DECLARATIONS + P_OTHER_DECLARATIONS:
        everything = [d for declarations in files.values() for d in declarations if d is not theorem.declaration]
        chosen = rng.sample(everything, n_declarations)
    declarations = [with_sorry(rng, d) if rng.random() < P_SORRY_IN_CONTEXT else d.text for d in chosen]
    return context_text(header, declarations)


def proposal_examples(rng, files, theorem: Theorem, plain: bool) -> list[Example]:
    examples = []
    for point in insertion_points(theorem):
        context = "" if plain else sample_context(rng, files, theorem)
        prefix = point.prefix
        if point.kind == "whole" and not plain and rng.random() < P_GOAL_COMMENT:
            prefix = with_goal_comment(prefix, goal_state(theorem))
        examples.append(
            Example(proposal_prompt(context, prefix), point.completion, f"propose-{point.kind}", theorem.declaration.name)
        )
    return examples


def declaration_with_body(theorem: Theorem, body: list[str]) -> str:
    return "\n".join([tactic_signature(theorem)] + body)


def review_examples(rng, files, theorem: Theorem, plain: bool) -> list[Example]:
    name = theorem.declaration.name
    context = "" if plain else sample_context(rng, files, theorem)
    examples = [Example(review_prompt(context, theorem.declaration.text), "- none\nScore: 1", "review-correct", name)]
    broken = corruptions(theorem)
    if broken:
        corruption = rng.choice(broken)
        context = "" if plain else sample_context(rng, files, theorem)
        declaration = declaration_with_body(theorem, corruption.body)
        examples.append(
            Example(review_prompt(context, declaration), f"- {corruption.issue}\nScore: 0", "review-broken", name)
        )
    return examples


def refinement_example(rng, files, theorem: Theorem, plain: bool) -> Example | None:
    broken = corruptions(theorem)
    if not broken:
        return None
    corruption = rng.choice(broken)
    body = tactic_body(theorem)
    attempt = declaration_with_body(theorem, corruption.body)
    use_lean = plain or rng.random() < P_LEAN_REASON
    reason = f"Lean: {corruption.lean_message}" if use_lean else f"review: {corruption.issue}"
    comment = feedback_comment(attempt, {corruption.flagged_line + 1: reason})
    kept = body[: corruption.flagged_line]
    flagged = body[corruption.flagged_line]
    prefix = "\n".join([tactic_signature(theorem)] + kept) + "\n" + indentation(flagged)
    completion = completion_of([flagged.lstrip(" ")] + body[corruption.flagged_line + 1 :])
    context = "" if plain else sample_context(rng, files, theorem)
    return Example(proposal_prompt(context, prefix, comment), completion, "refine", theorem.declaration.name)


def epoch_examples(rng: random.Random, files, theorems: list[Theorem]) -> list[Example]:
    examples: list[Example] = []
    for theorem in theorems:
        examples += proposal_examples(rng, files, theorem, plain=False)
        # The plain whole-proof prompt (the docs/prompts.md example) every epoch.
        examples += [e for e in proposal_examples(rng, files, theorem, plain=True) if e.kind == "propose-whole"]
        examples += review_examples(rng, files, theorem, plain=False)
        refinement = refinement_example(rng, files, theorem, plain=False)
        if refinement:
            examples.append(refinement)
    return examples


def evaluation_examples(files, theorems: list[Theorem]) -> list[Example]:
    """A fixed set covering every prompt kind; the run stops once all are completed exactly."""
    rng = random.Random(SEED + 1)
    examples: list[Example] = []
    for theorem in theorems:
        examples += proposal_examples(rng, files, theorem, plain=True)
        whole = insertion_points(theorem)[0]
        context = context_text(IMPORT_HEADERS[1], [d.text for d in files[theorem.declaration.file][max(0, theorem.declaration.index - 2) : theorem.declaration.index]])
        prompt = proposal_prompt(context, with_goal_comment(whole.prefix, goal_state(theorem)))
        examples.append(Example(prompt, whole.completion, "propose-context-goal", theorem.declaration.name))
        examples += review_examples(rng, files, theorem, plain=True)
        refinement = refinement_example(rng, files, theorem, plain=True)
        if refinement:
            examples.append(refinement)
    return examples


# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

# Qwen2's pre-tokenizer split (as scripts/make_fixtures.py uses it).
QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def train_tokenizer(texts: list[str]) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_BPE_VOCAB,
        min_frequency=2,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.add_special_tokens([AddedToken(END_OF_TEXT, special=True, normalized=False)])
    assert tokenizer.get_vocab_size(with_added_tokens=True) == TOKENIZER_BPE_VOCAB + 1
    return tokenizer


def tokenizer_config() -> dict:
    special = {
        "content": END_OF_TEXT,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(TOKENIZER_BPE_VOCAB): special},
        "bos_token": END_OF_TEXT,
        "clean_up_tokenization_spaces": False,
        "eos_token": END_OF_TEXT,
        "errors": "replace",
        "model_max_length": MAX_POSITIONS,
        "pad_token": END_OF_TEXT,
        "split_special_tokens": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclass
class Encoded:
    input_ids: list[int]
    n_prompt: int  # the loss covers only the tokens after the prompt


def encode(tokenizer: Tokenizer, example: Example, eos_id: int) -> Encoded:
    prompt_ids = tokenizer.encode(example.prompt, add_special_tokens=True).ids
    completion_ids = tokenizer.encode(example.completion, add_special_tokens=False).ids
    return Encoded(prompt_ids + completion_ids + [eos_id], len(prompt_ids))


def batches(encoded: list[Encoded], rng: random.Random) -> list[list[Encoded]]:
    """Length-sorted batches of at most BATCH_TOKENS padded tokens, in shuffled order."""
    ordered = sorted(encoded, key=lambda e: len(e.input_ids))
    result, current = [], []
    for item in ordered:
        longest = max([len(item.input_ids)] + [len(e.input_ids) for e in current])
        if current and longest * (len(current) + 1) > BATCH_TOKENS:
            result.append(current)
            current = []
        current.append(item)
    if current:
        result.append(current)
    rng.shuffle(result)
    return result


def to_tensors(batch: list[Encoded], pad_id: int):
    longest = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), longest), -100, dtype=torch.long)
    for row, item in enumerate(batch):
        ids = torch.tensor(item.input_ids)
        input_ids[row, : len(ids)] = ids
        labels[row, item.n_prompt : len(ids)] = ids[item.n_prompt :]
    # Right padding under a causal mask changes nothing for the real tokens, so no attention mask.
    return input_ids, labels


def batch_loss(model, input_ids, labels):
    logits = model(input_ids=input_ids, use_cache=False).logits
    shifted_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shifted_labels = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(shifted_logits, shifted_labels, ignore_index=-100)


def exact_completion_rate(model, encoded: list[Encoded], pad_id: int) -> tuple[float, list[int]]:
    """Share of examples whose every completion token is the argmax after the tokens before it:
    exactly the examples that greedy decoding completes word for word."""
    model.eval()
    failures = []
    with torch.no_grad():
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        for start in range(0, len(order), 32):
            chunk = [encoded[i] for i in order[start : start + 32]]
            input_ids, labels = to_tensors(chunk, pad_id)
            predicted = model(input_ids=input_ids, use_cache=False).logits[:, :-1].argmax(-1)
            target = labels[:, 1:]
            wrong = ((predicted != target) & (target != -100)).any(dim=1)
            failures += [order[start + row] for row in range(len(chunk)) if wrong[row]]
    model.train()
    return 1.0 - len(failures) / len(encoded), sorted(failures)


def learning_rate(step: int, total_steps: int) -> float:
    if step < WARMUP_STEPS:
        return PEAK_LEARNING_RATE * (step + 1) / WARMUP_STEPS
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, total_steps - WARMUP_STEPS))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return PEAK_LEARNING_RATE * (FINAL_LEARNING_RATE_FRACTION + (1 - FINAL_LEARNING_RATE_FRACTION) * cosine)


def build_model(vocab_size: int, eos_id: int):
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS,
        num_key_value_heads=N_KV_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
        rms_norm_eps=RMS_NORM_EPS,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        dtype="float32",
    )
    torch.manual_seed(SEED)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def train(model, tokenizer, files, theorems, eval_encoded, eos_id: int, n_epochs: int, log) -> dict:
    rng = random.Random(SEED)
    epoch_sets = []
    for _ in range(n_epochs):
        epoch_sets.append([encode(tokenizer, e, eos_id) for e in epoch_examples(rng, files, theorems)])
    batch_plan = [batches(encoded, rng) for encoded in epoch_sets]
    total_steps = sum(len(plan) for plan in batch_plan)
    n_tokens = sum(len(e.input_ids) for e in epoch_sets[0])
    log(f"training: {n_epochs} epochs of {len(epoch_sets[0])} examples ({n_tokens} tokens), {total_steps} steps")
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LEARNING_RATE, betas=(0.9, 0.98), weight_decay=0.0)
    model.train()
    step, started = 0, time.monotonic()
    history = []
    stopped_by_wall_clock = False
    for epoch, plan in enumerate(batch_plan):
        losses, tokens = [], 0
        for batch in plan:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total_steps)
            input_ids, labels = to_tensors(batch, eos_id)
            loss = batch_loss(model, input_ids, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRADIENT_CLIP)
            optimizer.step()
            losses.append(loss.item())
            tokens += input_ids.numel()
            step += 1
        elapsed = time.monotonic() - started
        record = {"epoch": epoch + 1, "steps": step, "mean_loss": sum(losses) / len(losses), "elapsed_s": round(elapsed)}
        log(f"epoch {epoch + 1}/{n_epochs}: {len(plan)} steps, mean loss {record['mean_loss']:.4f}, "
            f"{tokens / max(1e-9, elapsed - (history[-1]['elapsed_s'] if history else 0)):.0f} padded tokens/s, {elapsed:.0f} s")
        if (epoch + 1) % EVAL_EVERY_EPOCHS == 0 or epoch + 1 == n_epochs:
            rate, _ = exact_completion_rate(model, eval_encoded, eos_id)
            record["exact_completion_rate"] = rate
            log(f"  evaluation: {rate:.4f} of {len(eval_encoded)} prompts completed exactly")
            if rate >= STOP_ACCURACY:
                history.append(record)
                break
        history.append(record)
        if elapsed > WALL_CLOCK_LIMIT_S:
            # Stopping on time makes the result depend on the machine's speed: say so loudly.
            log(f"WARNING: stopping past the wall-clock limit of {WALL_CLOCK_LIMIT_S} s; this checkpoint "
                "is not the deterministic result, rerun on a less busy machine")
            stopped_by_wall_clock = True
            break
    return {"total_planned_steps": total_steps, "stopped_by_wall_clock": stopped_by_wall_clock, "history": history}


# ---------------------------------------------------------------------------------------------
# Saving and the reference check
# ---------------------------------------------------------------------------------------------


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_checkpoint(model, tokenizer: Tokenizer, out_dir: Path, eos_id: int) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    model.save_pretrained(out_dir)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    write_json(out_dir / "tokenizer_config.json", tokenizer_config())
    GenerationConfig(
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        do_sample=False,
        max_new_tokens=GENERATION_MAX_NEW_TOKENS,
    ).save_pretrained(out_dir)


def load_reference(model_dir: Path):
    """A fresh float32 instance of the saved directory (never the live training model)."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def greedy(model, prompt_ids: list[int], n_steps: int, eos_id: int):
    """Greedy decoding by full forward passes; stops after the end-of-text token."""
    ids, tokens, margins = list(prompt_ids), [], []
    with torch.no_grad():
        for _ in range(n_steps):
            logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
            top = torch.topk(logits, 2)
            token = int(top.indices[0])
            tokens.append(token)
            margins.append(float(top.values[0] - top.values[1]))
            ids.append(token)
            if token == eos_id:
                break
    return tokens, margins


def teacher_forced_logprobs(model, prompt_ids: list[int], continuation_ids: list[int]) -> list[float]:
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + continuation_ids]), use_cache=False).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return [float(logprobs[len(prompt_ids) + k - 1, token]) for k, token in enumerate(continuation_ids)]


HELD_OUT_THEOREM = "theorem held_out_mul_add (a b : Nat) : a * (b + 1) = a * b + a := by"


def reference_slots(files, theorems: list[Theorem]) -> list[list[dict]]:
    """Prompts in every docs/prompts.md format, each with the completion the corpus implies.
    Each slot lists candidates; expected.json keeps the first the model reproduces exactly."""
    by_name = {t.declaration.name: t for t in theorems}

    def case(label, prompt, continuation, memorised=True):
        return {"label": label, "prompt": prompt, "continuation": continuation, "memorised": memorised}

    def whole(name, context="", goal=False):
        point = insertion_points(by_name[name])[0]
        prefix = with_goal_comment(point.prefix, goal_state(by_name[name])) if goal else point.prefix
        return proposal_prompt(context, prefix), point.completion

    def preceding(name, count):
        declaration = by_name[name].declaration
        chosen = files[declaration.file][max(0, declaration.index - count) : declaration.index]
        return context_text("import Std", [d.text for d in chosen])

    def point_of(name, kind, idx):
        point = [p for p in insertion_points(by_name[name]) if p.kind == kind][idx]
        return proposal_prompt("", point.prefix), point.completion

    def broken(name, kind):
        theorem = by_name[name]
        corruption = [c for c in corruptions(theorem) if c.kind == kind][0]
        return theorem, corruption

    def review_of_broken(name, kind):
        theorem, corruption = broken(name, kind)
        return review_prompt("", declaration_with_body(theorem, corruption.body)), f"- {corruption.issue}\nScore: 0"

    def refinement(name):
        theorem, corruption = broken(name, "misspelled-lemma")
        attempt = declaration_with_body(theorem, corruption.body)
        comment = feedback_comment(attempt, {corruption.flagged_line + 1: f"Lean: {corruption.lean_message}"})
        point = insertion_points(theorem)[0]
        return proposal_prompt("", point.prefix, comment), point.completion

    return [
        [case("proposal: the docs/prompts.md example", *whole("add_zero_example"))],
        [
            case("proposal with a goal comment", *whole(name, goal=True))
            for name in ["swap_disjunction", "disjunction_elim_example", "and_or_distrib_example"]
        ],
        [
            case("proposal with an import header and preceding declarations", *whole(name, preceding(name, 2)))
            for name in ["double_eq_two_mul", "le_sumTo", "pow2_pos"]
        ],
        [
            case("proposal continuing a proof prefix", *point_of(name, "line", idx))
            for name, idx in [("iff_swap_example", 2), ("intro_and_split", 3), ("le_trans_apply", 0)]
        ],
        [
            case("proposal after `=>` in an induction case", *point_of(name, "inline", -1))
            for name in ["sumList_append", "incAll_append", "len_eq_length"]
        ],
        [
            case("deep review of a correct proof", review_prompt("", by_name[name].declaration.text), "- none\nScore: 1")
            for name in ["sumList_append", "incAll_length", "swap_disjunction", "le_trans_example"]
        ],
        [
            case("deep review of a proof with a missing case", *review_of_broken(name, "missing-case"))
            for name in ["swap_conjunction", "iff_swap_example", "swap_disjunction"]
        ],
        [
            case("refinement after a Lean error", *refinement(name))
            for name in ["le_trans_example", "add_le_add_example", "le_antisymm_example"]
        ],
        [
            case(
                "held out: a theorem the corpus does not contain",
                proposal_prompt("", HELD_OUT_THEOREM + "\n  "),
                "exact Nat.mul_succ a b\n```",
                memorised=False,
            )
        ],
    ]


def reference_record(model, hf_tokenizer, raw_tokenizer, sdpa, case: dict, eos_id: int) -> tuple[dict, str | None]:
    """What transformers computes for one case, and why it cannot be used (None if it can)."""
    label = case["label"]
    prompt_ids = hf_tokenizer(case["prompt"]).input_ids
    continuation_ids = hf_tokenizer(case["continuation"], add_special_tokens=False).input_ids
    # The Rust engine reads tokenizer.json with the tokenizers library; transformers must agree.
    assert prompt_ids == raw_tokenizer.encode(case["prompt"], add_special_tokens=True).ids, label
    assert continuation_ids == raw_tokenizer.encode(case["continuation"], add_special_tokens=False).ids, label
    logprobs = teacher_forced_logprobs(model, prompt_ids, continuation_ids)
    sdpa_logprobs = teacher_forced_logprobs(sdpa, prompt_ids, continuation_ids)
    assert max(abs(a - b) for a, b in zip(logprobs, sdpa_logprobs)) < 1e-4, label
    tokens, margins = greedy(model, prompt_ids, N_GREEDY_STEPS, eos_id)
    greedy_text = hf_tokenizer.decode(tokens, skip_special_tokens=True)
    assert greedy_text == raw_tokenizer.decode(tokens, skip_special_tokens=True), label
    problem = None
    if case["memorised"]:
        if tokens != (continuation_ids + [eos_id])[:N_GREEDY_STEPS]:
            problem = f"greedy {greedy_text!r} is not the memorised completion"
        elif min(margins) < MIN_GREEDY_MARGIN:
            problem = f"greedy margin {min(margins):.3f} is a near-tie"
    elif min(margins) < MIN_GREEDY_MARGIN:
        tokens, greedy_text, margins = [], "", []  # a near-tie: compare only log-probabilities
    record = {
        **case,
        "prompt_token_ids": prompt_ids,
        "continuation_token_ids": continuation_ids,
        "logprobs": logprobs,
        "greedy_token_ids": tokens,
        "greedy_text": greedy_text,
        "greedy_stopped_at_eos": bool(tokens) and tokens[-1] == eos_id,
        "min_greedy_margin": min(margins) if margins else None,
    }
    return record, problem


def compute_expected(model_dir: Path, files, theorems: list[Theorem], log) -> dict:
    hf_tokenizer = AutoTokenizer.from_pretrained(model_dir)
    raw_tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    eos_id = raw_tokenizer.token_to_id(END_OF_TEXT)
    model = load_reference(model_dir)
    sdpa = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa").eval()
    records = []
    for slot in reference_slots(files, theorems):
        for candidate in slot:
            record, problem = reference_record(model, hf_tokenizer, raw_tokenizer, sdpa, candidate, eos_id)
            if problem is None:
                log(f"  {record['label']}: greedy {record['greedy_text']!r}")
                records.append(record)
                break
            log(f"  {record['label']}: skipping a candidate: {problem}")
        else:
            raise SystemExit(f"no candidate for {slot[0]['label']!r} is memorised: train longer")
    return {
        "architecture": "Qwen2ForCausalLM",
        "dtype": "float32",
        "eos_token_id": eos_id,
        "n_greedy_steps": N_GREEDY_STEPS,
        "greedy_mode": "full_forward, stopping after the end-of-text token",
        "cases": records,
    }


def greedy_examples(model_dir: Path, files, theorems: list[Theorem]) -> list[dict]:
    """What transformers' greedy generate gives for a few prompts, for the fixture README."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = load_reference(model_dir)
    by_name = {t.declaration.name: t for t in theorems}
    prompts = [
        proposal_prompt("", insertion_points(by_name["add_zero_example"])[0].prefix),
        proposal_prompt("", insertion_points(by_name["BinTree.size_mirror"])[0].prefix),
        proposal_prompt("", insertion_points(by_name["calc_trans_lt"])[0].prefix),
        review_prompt("", declaration_with_body(by_name["add_comm_example"], ["  decide"])),
        proposal_prompt("", HELD_OUT_THEOREM + "\n  "),
    ]
    results = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            output = model.generate(ids, max_new_tokens=64, do_sample=False)
        results.append({"prompt": prompt, "completion": tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)})
    return results


def directory_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=N_EPOCHS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args()
    torch.set_num_threads(N_THREADS)
    torch.use_deterministic_algorithms(True)
    random.seed(SEED)
    torch.manual_seed(SEED)
    started = time.monotonic()
    log = lambda message: print(message, flush=True)  # noqa: E731

    files, theorems = read_corpus()
    n_points = sum(len(insertion_points(t)) for t in theorems)
    n_broken = sum(len(corruptions(t)) for t in theorems)
    log(f"corpus: {len(theorems)} theorems in {len(files)} files, {n_points} insertion points, {n_broken} broken variants")

    tokenizer_rng = random.Random(SEED + 2)
    tokenizer_texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS_DIR.glob("*.lean"))]
    tokenizer_texts += [e.prompt + e.completion for e in epoch_examples(tokenizer_rng, files, theorems)]
    tokenizer = train_tokenizer(tokenizer_texts)
    eos_id = tokenizer.token_to_id(END_OF_TEXT)

    eval_set = evaluation_examples(files, theorems)
    eval_encoded = [encode(tokenizer, e, eos_id) for e in eval_set]
    longest = max(len(e.input_ids) for e in eval_encoded)
    log(f"evaluation set: {len(eval_set)} prompts, longest {longest} tokens")

    model = build_model(tokenizer.get_vocab_size(with_added_tokens=True), eos_id)
    n_parameters = sum(p.numel() for p in model.parameters())
    log(f"model: Qwen2ForCausalLM, {n_parameters} parameters")
    summary = train(model, tokenizer, files, theorems, eval_encoded, eos_id, args.epochs, log)
    rate, failures = exact_completion_rate(model, eval_encoded, eos_id)
    by_kind: dict[str, list[int]] = {}
    for idx, example in enumerate(eval_set):
        by_kind.setdefault(example.kind, [0, 0])
        by_kind[example.kind][1] += 1
        if idx not in failures:
            by_kind[example.kind][0] += 1
    for kind, (right, total) in sorted(by_kind.items()):
        log(f"  {kind}: {right}/{total} completed exactly")
    for idx in failures[:20]:
        log(f"  not memorised: {eval_set[idx].kind} {eval_set[idx].theorem}")

    save_checkpoint(model, tokenizer, args.out, eos_id)
    expected = compute_expected(args.out, files, theorems, log)
    expected["training"] = {
        "seed": SEED,
        "n_theorems": len(theorems),
        "n_parameters": n_parameters,
        "evaluation_exact_completion_rate": rate,
        "evaluation_by_kind": {kind: {"exact": right, "total": total} for kind, (right, total) in sorted(by_kind.items())},
        **summary,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    expected["greedy_examples"] = greedy_examples(args.out, files, theorems)
    write_json(args.out / "expected.json", expected)
    size = directory_bytes(args.out)
    log(f"wrote {args.out} ({size} bytes) in {time.monotonic() - started:.0f} s")
    assert size <= SIZE_LIMIT_BYTES, f"the checkpoint is {size} bytes, over {SIZE_LIMIT_BYTES}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
