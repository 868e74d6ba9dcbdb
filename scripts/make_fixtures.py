#!/usr/bin/env python3
"""Writes tiny random Hugging Face checkpoints and what transformers computes for them.

Each fixture under model/tests/fixtures/<name>/ is a complete model directory (config.json,
safetensors weights, tokenizer.json, tokenizer_config.json, generation_config.json) plus
expected.json: token ids, teacher-forced log-probabilities and 16 greedy tokens, all computed
by Hugging Face transformers on CPU in float32. The Rust tests in model/tests compare the
engine against them. docs/fixtures.md explains the choices and how to regenerate.

Usage:  .venv/bin/python scripts/make_fixtures.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
    Qwen3Config,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO_ROOT / "model" / "tests" / "fixtures"

N_GREEDY_STEPS = 16
MIN_GREEDY_MARGIN = 0.05  # smallest allowed top-1 minus top-2 logit gap at any greedy step
MAX_SEED_TRIES = 400
SHARD_SIZE = "100KB"  # small enough that every sharded fixture has at least two shards
LEGACY_TRANSFORMERS_VERSION = "4.45.0"  # written into legacy-layout config.json files

# ---------------------------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------------------------

# Lean 4 text written for this project, used only to train the tiny tokenizers.
LEAN_CORPUS = r"""
theorem add_comm' (a b : ℕ) : a + b = b + a := by
  exact Nat.add_comm a b

theorem mul_le_mul_of_le {a b c : ℕ} (h : a ≤ b) : a * c ≤ b * c := by
  exact Nat.mul_le_mul_right c h

lemma sum_le_sum (S : Finset ℕ) (f g : ℕ → ℕ) (h : ∀ x ∈ S, f x ≤ g x) :
    ∑ x ∈ S, f x ≤ ∑ x ∈ S, g x := by
  apply Finset.sum_le_sum
  intro x hx
  exact h x hx

example (p q : Prop) (hp : p) (hq : q) : p ∧ q := ⟨hp, hq⟩

example (p q : Prop) : p ∧ q → q ∧ p := by
  intro ⟨hp, hq⟩
  exact ⟨hq, hp⟩

theorem exists_nat_gt (n : ℕ) : ∃ m, n < m := ⟨n + 1, Nat.lt_succ_self n⟩

theorem two_mul' (n : ℕ) : 2 * n = n + n := by
  induction n with
  | zero => simp
  | succ k ih =>
    rw [Nat.mul_succ, ih]
    omega

lemma le_antisymm' {a b : ℤ} (h₁ : a ≤ b) (h₂ : b ≤ a) : a = b := by
  constructor <;> linarith

theorem foo (x : ℝ) (hx : 0 < x) : 0 < x ^ 2 + x := by
  have h : 0 < x ^ 2 := by positivity
  linarith

example (s t : Set α) (h : s ⊆ t) (x : α) (hx : x ∈ s) : x ∈ t := h hx

example (f : α → β) (g : β → γ) : (g ∘ f) = fun x => g (f x) := rfl

theorem and_swap (p q : Prop) : p ∧ q ↔ q ∧ p := by
  constructor
  · rintro ⟨hp, hq⟩
    exact ⟨hq, hp⟩
  · rintro ⟨hq, hp⟩
    exact ⟨hp, hq⟩

theorem sq_nonneg' (a : ℝ) : 0 ≤ a ^ 2 := by
  nlinarith [sq_nonneg a]

lemma card_pos {s : Finset α} (h : s.Nonempty) : 0 < s.card := Finset.card_pos.mpr h

theorem div_add_mod' (m k : ℕ) : k * (m / k) + m % k = m := by
  simpa [Nat.mul_comm] using Nat.div_add_mod m k

example : ∀ ε > 0, ∃ δ > 0, ∀ x, |x| < δ → |2 * x| < ε := by
  intro ε hε
  refine ⟨ε / 2, by positivity, fun x hx => ?_⟩
  rw [abs_mul]
  norm_num
  linarith

theorem inv_mul (a : G) : a⁻¹ * a = 1 := by
  simp

example (n : ℕ) (h : n ≠ 0) : 0 < n := Nat.pos_of_ne_zero h

theorem foo_bar : 1 + 1 = 2 := by norm_num

theorem map_id' (l : List α) : l.map id = l := by
  induction l <;> simp_all
"""

QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}"
    "{% elif message['role'] == 'system' %}"
    "{{ '<<SYS>>\\n' + message['content'] | trim + '\\n<</SYS>>\\n\\n' }}"
    "{% else %}"
    "{{ ' ' + message['content'] | trim + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)

# ChatML as the Qwen family writes it: one <|im_start|>role ... <|im_end|> block per message,
# a default system message when none is given, and an open assistant block on request.
QWEN_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] != 'system' or not loop.first %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)


@dataclass
class TokenizerStyle:
    name: str  # "llama" or "qwen"
    tokenizer: Tokenizer
    tokenizer_config: dict
    bos_token_id: int | None
    eos_token_id: int
    generation_eos: int | list[int]
    pad_token_id: int | None


def train_llama_style_tokenizer() -> TokenizerStyle:
    """Byte-level BPE with <unk>, <s>, </s> at ids 0, 1, 2 and a post-processor that adds <s>."""
    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=360,
        min_frequency=2,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([LEAN_CORPUS], trainer=trainer)
    bos_id = tokenizer.token_to_id("<s>")
    eos_id = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )
    added_tokens_decoder = {
        str(tokenizer.token_to_id(tok)): added_token_entry(tok) for tok in ["<unk>", "<s>", "</s>"]
    }
    tokenizer_config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": added_tokens_decoder,
        "bos_token": "<s>",
        "chat_template": LLAMA_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": False,
        "model_max_length": 4096,
        "pad_token": None,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "<unk>",
    }
    return TokenizerStyle("llama", tokenizer, tokenizer_config, bos_id, eos_id, eos_id, None)


def train_qwen_style_tokenizer() -> TokenizerStyle:
    """Qwen2's pipeline (NFC, Qwen regex split, byte level), no BOS, ChatML tokens at the end."""
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
        vocab_size=384,
        min_frequency=2,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([LEAN_CORPUS], trainer=trainer)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    # Like the real Qwen vocabularies, the special tokens come after every BPE token.
    tokenizer.add_special_tokens(
        [AddedToken(tok, special=True, normalized=False, lstrip=False, rstrip=False) for tok in specials]
    )
    ids = {tok: tokenizer.token_to_id(tok) for tok in specials}
    tokenizer_config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[tok]): added_token_entry(tok) for tok in specials},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": QWEN_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    return TokenizerStyle(
        "qwen",
        tokenizer,
        tokenizer_config,
        None,
        ids["<|im_end|>"],
        [ids["<|im_end|>"], ids["<|endoftext|>"]],
        ids["<|endoftext|>"],
    )


def added_token_entry(content: str) -> dict:
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }


# ---------------------------------------------------------------------------------------------
# Fixture specifications
# ---------------------------------------------------------------------------------------------


@dataclass
class FixtureSpec:
    name: str
    architecture: str
    dtype: str  # "float32" or "bfloat16"
    layout: str  # "v5" or "legacy"
    sharded: bool
    tokenizer_style: str  # "llama" or "qwen"
    rope_parameters: dict  # v5 form: rope_type, rope_theta and the scaling keys
    config_kwargs: dict = field(default_factory=dict)
    pad_vocab_to: int | None = None  # model vocab larger than the tokenizer's, as Qwen does
    # Keys written into config.json after saving (and checked to change nothing in transformers).
    config_overrides: dict = field(default_factory=dict)
    generation: dict = field(default_factory=dict)
    first_seed: int = 0


COMMON = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    hidden_act="silu",
    initializer_range=0.02,
    attention_dropout=0.0,
    use_cache=True,
)

LLAMA_SHAPE = dict(COMMON, hidden_size=64, intermediate_size=128, rms_norm_eps=1e-5, max_position_embeddings=128)

FIXTURES = [
    FixtureSpec(
        "llama-default-f32-v5",
        "LlamaForCausalLM",
        "float32",
        "v5",
        False,
        "llama",
        {"rope_type": "default", "rope_theta": 10000.0},
        dict(LLAMA_SHAPE),
        generation=dict(do_sample=True, temperature=0.6, top_p=0.9),
    ),
    FixtureSpec(
        "llama-linear-bf16-legacy-sharded",
        "LlamaForCausalLM",
        "bfloat16",
        "legacy",
        True,
        "llama",
        {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
        dict(LLAMA_SHAPE, rms_norm_eps=1e-6),
        generation=dict(do_sample=True, temperature=0.7, top_p=0.95, top_k=50),
    ),
    FixtureSpec(
        "llama-dynamic-f32-legacy-sharded",
        "LlamaForCausalLM",
        "float32",
        "legacy",
        True,
        "llama",
        {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 4.0},
        dict(LLAMA_SHAPE, max_position_embeddings=16),
        generation=dict(do_sample=False),
    ),
    FixtureSpec(
        "llama-llama3-bf16-v5",
        "LlamaForCausalLM",
        "bfloat16",
        "v5",
        False,
        "llama",
        {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16,
        },
        # Llama 3.2 style: llama3 rope and tied embeddings.
        dict(LLAMA_SHAPE, tie_word_embeddings=True),
        generation=dict(do_sample=True, temperature=0.6, top_p=0.9),
    ),
    FixtureSpec(
        "llama-yarn-bf16-v5-sharded",
        "LlamaForCausalLM",
        "bfloat16",
        "v5",
        True,
        "llama",
        # factor equals max_position_embeddings / original_max_position_embeddings, so transformers
        # 4.x (which derived the factor from that ratio) and 5.x agree.
        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 32},
        dict(LLAMA_SHAPE),
        generation=dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0),
    ),
    FixtureSpec(
        "mistral-swa8-f32-legacy-sharded",
        "MistralForCausalLM",
        "float32",
        "legacy",
        True,
        "llama",
        {"rope_type": "default", "rope_theta": 1000000.0},
        dict(LLAMA_SHAPE, sliding_window=8),
        generation=dict(do_sample=True, temperature=0.7, top_p=1.0),
    ),
    FixtureSpec(
        "mistral-swa5-bf16-v5",
        "MistralForCausalLM",
        "bfloat16",
        "v5",
        False,
        "llama",
        {"rope_type": "default", "rope_theta": 10000.0},
        dict(LLAMA_SHAPE, sliding_window=5, hidden_size=48, intermediate_size=96),
        generation=dict(do_sample=True, temperature=0.3),
    ),
    FixtureSpec(
        "qwen2-default-f32-v5-sharded",
        "Qwen2ForCausalLM",
        "float32",
        "v5",
        True,
        "qwen",
        {"rope_type": "default", "rope_theta": 1000000.0},
        dict(COMMON, hidden_size=64, intermediate_size=128, rms_norm_eps=1e-6, max_position_embeddings=256,
             tie_word_embeddings=True, use_sliding_window=False, max_window_layers=2),
        pad_vocab_to=400,
        generation=dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05),
    ),
    FixtureSpec(
        "qwen2-default-bf16-legacy",
        "Qwen2ForCausalLM",
        "bfloat16",
        "legacy",
        False,
        "qwen",
        {"rope_type": "default", "rope_theta": 10000.0},
        dict(COMMON, hidden_size=48, intermediate_size=96, rms_norm_eps=1e-6, max_position_embeddings=256,
             tie_word_embeddings=True, use_sliding_window=False, max_window_layers=1),
        pad_vocab_to=400,
        # Real Qwen2 configs carry a sliding_window value with use_sliding_window false; transformers
        # then uses no window at all. A small value here makes an engine that honours it fail.
        config_overrides={"sliding_window": 4},
        generation=dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20),
    ),
    FixtureSpec(
        "qwen3-default-bf16-v5-sharded",
        "Qwen3ForCausalLM",
        "bfloat16",
        "v5",
        True,
        "qwen",
        {"rope_type": "default", "rope_theta": 1000000.0},
        dict(COMMON, hidden_size=48, head_dim=16, intermediate_size=96, rms_norm_eps=1e-6,
             max_position_embeddings=256, tie_word_embeddings=False, attention_bias=False,
             use_sliding_window=False, max_window_layers=2),
        pad_vocab_to=416,
        generation=dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=20),
    ),
    FixtureSpec(
        "qwen3-default-f32-legacy",
        "Qwen3ForCausalLM",
        "float32",
        "legacy",
        False,
        "qwen",
        {"rope_type": "default", "rope_theta": 10000.0},
        dict(COMMON, hidden_size=48, head_dim=16, intermediate_size=96, rms_norm_eps=1e-6,
             max_position_embeddings=256, tie_word_embeddings=True, attention_bias=False,
             use_sliding_window=False, max_window_layers=2),
        pad_vocab_to=400,
        config_overrides={"sliding_window": 4},
        generation=dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=20),
    ),
]

CONFIG_CLASSES = {
    "LlamaForCausalLM": LlamaConfig,
    "MistralForCausalLM": MistralConfig,
    "Qwen2ForCausalLM": Qwen2Config,
    "Qwen3ForCausalLM": Qwen3Config,
}

# (prompt, continuation). The empty prompt gives [bos] with the Llama-style tokenizer and no
# tokens at all with the Qwen-style one. The long cases run past 16 positions (dynamic rope's
# max_position_embeddings) and past every sliding window.
COMMON_CASES = [
    ("", "theorem foo_bar : 1 + 1 = 2 := by norm_num"),
    ("theorem add_comm' (a b : ℕ) : a + b = b + a := by\n  ", "exact Nat.add_comm a b"),
    (
        "lemma sum_le_sum (S : Finset ℕ) (f g : ℕ → ℕ) (h : ∀ x ∈ S, f x ≤ g x) :\n    ",
        "∑ x ∈ S, f x ≤ ∑ x ∈ S, g x := by\n  apply Finset.sum_le_sum\n  intro x hx\n  exact h x hx",
    ),
    ("example (p q : Prop) : p ∧ q → q ∧ p := by\n", "  intro ⟨hp, hq⟩\n  exact ⟨hq, hp⟩"),
]
LLAMA_EXTRA_CASE = (
    "theorem and_swap (p q : Prop) : p ∧ q ↔ q ∧ p := by\n  constructor\n  · rintro ⟨hp, hq⟩\n"
    "    exact ⟨hq, hp⟩\n  · ",
    "rintro ⟨hq, hp⟩\n    exact ⟨hp, hq⟩",
)
QWEN_EXTRA_CASE = (
    "<|im_start|>user\nProve that ∀ x ∈ S, f x ≤ g x.<|im_end|>\n<|im_start|>assistant\n",
    "intro x hx\nexact h x hx<|im_end|>",
)

# ---------------------------------------------------------------------------------------------
# Model construction
# ---------------------------------------------------------------------------------------------


def build_config(spec: FixtureSpec, style: TokenizerStyle, vocab_size: int):
    kwargs = dict(spec.config_kwargs)
    kwargs.update(
        vocab_size=vocab_size,
        rope_parameters=dict(spec.rope_parameters),
        bos_token_id=style.bos_token_id,
        eos_token_id=style.eos_token_id,
        pad_token_id=style.pad_token_id,
    )
    config = CONFIG_CLASSES[spec.architecture](**kwargs)
    config.architectures = [spec.architecture]
    return config


def widen_weights(model: torch.nn.Module, seed: int, tokenizer_vocab: int) -> None:
    """Replaces the default init with a wide one so greedy choices are far from ties."""
    generator = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=generator) * std + mean

    with torch.no_grad():
        for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
            if name.endswith("norm.weight"):  # every RMSNorm: layer, final, q_norm, k_norm
                param.copy_(normal(param.shape, 0.1, 1.0))
            elif name.endswith(".bias"):
                param.copy_(normal(param.shape, 0.5))
            elif "embed_tokens" in name:
                param.copy_(normal(param.shape, 1.0))
            elif name == "lm_head.weight":
                param.copy_(normal(param.shape, 0.5))
            else:
                fan_in = param.shape[1]
                param.copy_(normal(param.shape, 2.0 / math.sqrt(fan_in)))
        # Rows past the tokenizer's vocabulary (padding, as in real Qwen checkpoints) stay small
        # so greedy decoding never picks an id the tokenizer cannot decode.
        if tokenizer_vocab < model.config.vocab_size:
            model.get_input_embeddings().weight[tokenizer_vocab:] *= 0.05
            model.get_output_embeddings().weight[tokenizer_vocab:] *= 0.05


# ---------------------------------------------------------------------------------------------
# Reference computations
# ---------------------------------------------------------------------------------------------


def cache_kwarg_name(model) -> str:
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def output_cache(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def teacher_forced_logprobs(model, prompt_ids: list[int], continuation_ids: list[int]):
    ids = prompt_ids + continuation_ids
    with torch.no_grad():
        logits = model(torch.tensor([ids]), use_cache=False).logits[0].float()
    logprobs_all = torch.log_softmax(logits, dim=-1)
    logprobs = []
    for k, token in enumerate(continuation_ids):
        position = len(prompt_ids) + k - 1  # logits at position p predict token p + 1
        logprobs.append(None if position < 0 else float(logprobs_all[position, token]))
    return logprobs, logits


def top_two_margin(logits: torch.Tensor) -> tuple[int, float]:
    top = torch.topk(logits.float(), 2)
    return int(top.indices[0]), float(top.values[0] - top.values[1])


def greedy_full_forward(model, prompt_ids: list[int], n_steps: int):
    ids = list(prompt_ids)
    tokens, margins = [], []
    with torch.no_grad():
        for _ in range(n_steps):
            logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
            token, margin = top_two_margin(logits)
            tokens.append(token)
            margins.append(margin)
            ids.append(token)
    return tokens, margins


def greedy_kv_cache(model, prompt_ids: list[int], n_steps: int):
    name = cache_kwarg_name(model)
    tokens, margins = [], []
    with torch.no_grad():
        output = model(torch.tensor([prompt_ids]), use_cache=True)
        for step in range(n_steps):
            token, margin = top_two_margin(output.logits[0, -1])
            tokens.append(token)
            margins.append(margin)
            if step + 1 < n_steps:
                output = model(torch.tensor([[token]]), use_cache=True, **{name: output_cache(output)})
    return tokens, margins


def load_model(model_dir: Path, attn_implementation: str = "eager"):
    """A fresh float32 instance from the saved directory (never a cast of a live bf16 model)."""
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation=attn_implementation
    )
    model.eval()
    return model


@dataclass
class CaseResult:
    record: dict
    logits: torch.Tensor  # teacher-forced logits, for the layout equivalence check
    kv_tokens: list[int] | None
    full_tokens: list[int] | None


def compute_cases(model_dir: Path, spec: FixtureSpec, cases) -> list[CaseResult]:
    hf_tokenizer = AutoTokenizer.from_pretrained(model_dir)
    raw_tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer_vocab = raw_tokenizer.get_vocab_size(with_added_tokens=True)
    is_dynamic = spec.rope_parameters["rope_type"] == "dynamic"
    results = []
    for prompt, continuation in cases:
        prompt_ids = hf_tokenizer(prompt).input_ids
        continuation_ids = hf_tokenizer(continuation, add_special_tokens=False).input_ids
        # The Rust engine reads tokenizer.json with the tokenizers library; transformers must agree.
        assert prompt_ids == raw_tokenizer.encode(prompt, add_special_tokens=True).ids, (spec.name, prompt)
        assert continuation_ids == raw_tokenizer.encode(continuation, add_special_tokens=False).ids, (
            spec.name,
            continuation,
        )
        # Dynamic rope keeps state in the rotary module, so every forward pass that matters gets a
        # fresh model: the reference is then "scale from the largest position in this forward".
        logprobs, logits = teacher_forced_logprobs(load_model(model_dir), prompt_ids, continuation_ids)
        sdpa_logprobs, _ = teacher_forced_logprobs(load_model(model_dir, "sdpa"), prompt_ids, continuation_ids)
        for eager_value, sdpa_value in zip(logprobs, sdpa_logprobs):
            if eager_value is not None:
                assert abs(eager_value - sdpa_value) < 1e-4, (spec.name, prompt, eager_value, sdpa_value)

        record = {
            "prompt": prompt,
            "continuation": continuation,
            "prompt_token_ids": prompt_ids,
            "continuation_token_ids": continuation_ids,
            "logprobs": logprobs,
        }
        kv_tokens = full_tokens = None
        if prompt_ids:
            full_tokens, full_margins = greedy_full_forward(load_model(model_dir), prompt_ids, N_GREEDY_STEPS)
            kv_tokens, kv_margins = greedy_kv_cache(load_model(model_dir), prompt_ids, N_GREEDY_STEPS)
            if is_dynamic:
                tokens, margins, mode = kv_tokens, kv_margins, "kv_cache"
            else:
                tokens, margins, mode = full_tokens, full_margins, "full_forward"
                assert kv_tokens == full_tokens, (spec.name, prompt, "kv cache and full forward disagree")
            assert all(token < tokenizer_vocab for token in tokens), (spec.name, prompt, tokens)
            greedy_text = hf_tokenizer.decode(tokens, skip_special_tokens=True)
            assert greedy_text == raw_tokenizer.decode(tokens, skip_special_tokens=True), (spec.name, tokens)
            record.update(
                greedy_token_ids=tokens,
                greedy_text=greedy_text,
                min_greedy_margin=round(min(margins), 6),
                greedy_mode=mode,
            )
            if is_dynamic:
                record["full_forward_greedy_token_ids"] = full_tokens
                record["min_full_forward_greedy_margin"] = round(min(full_margins), 6)
        else:
            # No token to condition on: there is nothing to decode greedily from.
            record.update(greedy_token_ids=[], greedy_text="", min_greedy_margin=None, greedy_mode="none")
        results.append(CaseResult(record, logits, kv_tokens, full_tokens))
    return results


def margins_ok(results: list[CaseResult]) -> bool:
    for result in results:
        record = result.record
        if record["min_greedy_margin"] is not None and record["min_greedy_margin"] < MIN_GREEDY_MARGIN:
            return False
        if record.get("min_full_forward_greedy_margin", math.inf) < MIN_GREEDY_MARGIN:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def to_legacy_config(config: dict) -> dict:
    """The transformers 4.x layout: top-level rope_theta, rope_scaling with `type`, torch_dtype."""
    legacy = {}
    for key, value in config.items():
        if key == "rope_parameters":
            rope = dict(value)
            legacy["rope_theta"] = rope.pop("rope_theta")
            rope_type = rope.pop("rope_type")
            legacy["rope_scaling"] = None if rope_type == "default" else {"type": rope_type, **rope}
        elif key == "dtype":
            legacy["torch_dtype"] = value
        elif key == "layer_types":
            continue  # written by transformers 5 only; 4.x Qwen2 configs derive it
        elif (
            key == "head_dim"
            and config["model_type"] in ("llama", "mistral")
            and value == config["hidden_size"] // config["num_attention_heads"]
        ):
            continue  # older Llama and Mistral configs leave head_dim to be derived
        elif key == "transformers_version":
            legacy[key] = LEGACY_TRANSFORMERS_VERSION
        else:
            legacy[key] = value
    return legacy


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_checkpoint(spec, style, model, out_dir: Path, layout: str) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    save_kwargs = {"max_shard_size": SHARD_SIZE} if spec.sharded else {}
    model.save_pretrained(out_dir, **save_kwargs)
    config = json.loads((out_dir / "config.json").read_text())
    assert "rope_parameters" in config and "dtype" in config, "transformers no longer writes the v5 layout"
    config.update(spec.config_overrides)
    if layout == "legacy":
        config = to_legacy_config(config)
    write_json(out_dir / "config.json", config)

    style.tokenizer.save(str(out_dir / "tokenizer.json"))
    write_json(out_dir / "tokenizer_config.json", style.tokenizer_config)
    generation = {"bos_token_id": style.bos_token_id, "eos_token_id": style.generation_eos}
    if style.pad_token_id is not None:
        generation["pad_token_id"] = style.pad_token_id
    generation.update(spec.generation)
    GenerationConfig(**generation).save_pretrained(out_dir)

    shards = sorted(out_dir.glob("model-*-of-*.safetensors"))
    if spec.sharded:
        assert len(shards) >= 2 and (out_dir / "model.safetensors.index.json").exists(), out_dir
    else:
        assert not shards and (out_dir / "model.safetensors").exists(), out_dir


def all_logprobs(model_dir: Path, results: list[CaseResult]) -> list[float]:
    values = []
    for result in results:
        record = result.record
        logprobs, _ = teacher_forced_logprobs(
            load_model(model_dir), record["prompt_token_ids"], record["continuation_token_ids"]
        )
        values += [value for value in logprobs if value is not None]
    return values


def check_feature_is_exercised(spec: FixtureSpec, model_dir: Path, results: list[CaseResult], scratch: Path):
    """The rope scaling or sliding window under test must change the outputs, or the fixture
    could not catch an engine that ignores it. Each edit below turns the feature off (or, for
    the Qwen sliding_window trap, on) and asserts the log-probabilities move."""
    config = json.loads((model_dir / "config.json").read_text())
    edits = {}
    if spec.rope_parameters["rope_type"] != "default":
        edits["rope scaling off"] = lambda c: c.update(
            rope_parameters={"rope_type": "default", "rope_theta": spec.rope_parameters["rope_theta"]},
            rope_scaling=None,
        )
    if spec.architecture == "MistralForCausalLM" and config.get("sliding_window") is not None:
        edits["sliding window off"] = lambda c: c.update(sliding_window=None)
    if config.get("use_sliding_window") is False and config.get("sliding_window") is not None:
        edits["use_sliding_window on"] = lambda c: (
            c.update(use_sliding_window=True, max_window_layers=0),
            c.pop("layer_types", None),
        )
    reference = [value for result in results for value in result.record["logprobs"] if value is not None]
    for label, edit in edits.items():
        edited_dir = scratch / f"{spec.name}-edited"
        shutil.copytree(model_dir, edited_dir)
        edited = copy.deepcopy(config)
        if "rope_parameters" not in edited:
            edited.pop("rope_theta", None)
        edit(edited)
        if "rope_parameters" not in config:  # legacy layout: keep it legacy
            edited.pop("rope_parameters", None)
            edited["rope_theta"] = spec.rope_parameters["rope_theta"]
        else:
            edited.pop("rope_scaling", None)
        write_json(edited_dir / "config.json", edited)
        changed = all_logprobs(edited_dir, results)
        shutil.rmtree(edited_dir)
        largest_change = max(abs(a - b) for a, b in zip(reference, changed))
        assert largest_change > 1e-2, (spec.name, label, "changes nothing", largest_change)
        print(f"{spec.name}: {label} moves log-probabilities by up to {largest_change:.3f}", flush=True)


def sliding_window_applied(model_dir: Path) -> int | None:
    """The window transformers actually uses, whatever config.json says."""
    config = transformers.AutoConfig.from_pretrained(model_dir)
    window = getattr(config, "sliding_window", None)
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and "sliding_attention" not in layer_types:
        return None
    return window


CHAT_MESSAGES = [{"role": "user", "content": "Prove that ∀ x ∈ S, f x ≤ g x."}]
CHAT_EXPECTED_TEXT = {
    "llama": "<s>[INST] Prove that ∀ x ∈ S, f x ≤ g x. [/INST]",
    "qwen": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nProve that ∀ x ∈ S, f x ≤ g x.<|im_end|>\n<|im_start|>assistant\n",
}


def chat_template_example(model_dir: Path, style_name: str) -> dict:
    """Renders one conversation with transformers, so the engine can check its own rendering."""
    hf_tokenizer = AutoTokenizer.from_pretrained(model_dir)
    text = hf_tokenizer.apply_chat_template(CHAT_MESSAGES, tokenize=False, add_generation_prompt=True)
    assert text == CHAT_EXPECTED_TEXT[style_name], (model_dir, text)
    return {"messages": CHAT_MESSAGES, "add_generation_prompt": True, "text": text}


def rope_reference(model_dir: Path, rope_type: str) -> dict:
    """inv_freq and the cos/sin scale transformers builds at load time, for rope unit tests."""
    model = load_model(model_dir)
    rotary = model.model.rotary_emb
    reference = {
        "inv_freq": [float(value) for value in rotary.inv_freq],
        "attention_scaling": float(rotary.attention_scaling),
    }
    if rope_type == "dynamic":
        # What the first forward pass whose largest position is seq_len - 1 uses (seq_len is a
        # tensor there, so this mirrors its float32 arithmetic).
        compute = transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS["dynamic"]
        reference["inv_freq_by_seq_len"] = {
            str(seq_len): [float(value) for value in compute(model.config, None, seq_len=torch.tensor(seq_len))[0]]
            for seq_len in (17, 32, 64)
        }
    return reference


def make_fixture(spec: FixtureSpec, style: TokenizerStyle, scratch: Path) -> dict:
    tokenizer_vocab = style.tokenizer.get_vocab_size(with_added_tokens=True)
    vocab_size = spec.pad_vocab_to or tokenizer_vocab
    cases = COMMON_CASES + [QWEN_EXTRA_CASE if style.name == "qwen" else LLAMA_EXTRA_CASE]
    other_layout = "legacy" if spec.layout == "v5" else "v5"
    final_dir = FIXTURES_DIR / spec.name
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[spec.dtype]

    for seed in range(spec.first_seed, spec.first_seed + MAX_SEED_TRIES):
        torch.manual_seed(seed)
        config = build_config(spec, style, vocab_size)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        widen_weights(model, seed, tokenizer_vocab)
        model = model.to(torch_dtype)
        model.config.dtype = torch_dtype

        candidate_dir = scratch / spec.name
        save_checkpoint(spec, style, model, candidate_dir, spec.layout)
        results = compute_cases(candidate_dir, spec, cases)
        if not margins_ok(results):
            continue

        # The same weights under the other config layout must give bit-identical outputs.
        other_dir = scratch / f"{spec.name}-{other_layout}"
        save_checkpoint(spec, style, model, other_dir, other_layout)
        other_results = compute_cases(other_dir, spec, cases)
        for mine, theirs in zip(results, other_results):
            assert torch.equal(mine.logits, theirs.logits), (spec.name, "layouts disagree")
            assert mine.record == theirs.record, (spec.name, "layouts disagree")
        shutil.rmtree(other_dir)

        check_feature_is_exercised(spec, candidate_dir, results, scratch)

        if final_dir.exists():
            shutil.rmtree(final_dir)
        shutil.move(str(candidate_dir), final_dir)
        config_json = json.loads((final_dir / "config.json").read_text())
        expected = {
            "architecture": spec.architecture,
            "dtype": spec.dtype,
            "config_layout": spec.layout,
            "sharded": spec.sharded,
            "rope_type": spec.rope_parameters["rope_type"],
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "seed": seed,
            "tokenizer_style": spec.tokenizer_style,
            "sliding_window_applied": sliding_window_applied(final_dir),
            "config_sliding_window": config_json.get("sliding_window"),
            "rope": rope_reference(final_dir, spec.rope_parameters["rope_type"]),
            "chat_template_example": chat_template_example(final_dir, spec.tokenizer_style),
            "cases": [result.record for result in results],
        }
        write_json(final_dir / "expected.json", expected)
        return expected
    raise RuntimeError(f"{spec.name}: no seed in {MAX_SEED_TRIES} tries gave greedy margins >= {MIN_GREEDY_MARGIN}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="fixture names to (re)write; default all")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    styles = {"llama": train_llama_style_tokenizer(), "qwen": train_qwen_style_tokenizer()}
    specs = [spec for spec in FIXTURES if not args.only or spec.name in args.only]
    if args.only and len(specs) != len(args.only):
        parser.error(f"unknown fixture name in {args.only}")
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="proofwright-fixtures-") as scratch:
        for spec in specs:
            started = time.monotonic()
            expected = make_fixture(spec, styles[spec.tokenizer_style], Path(scratch))
            margins = [c["min_greedy_margin"] for c in expected["cases"] if c["min_greedy_margin"] is not None]
            print(
                f"{spec.name}: seed {expected['seed']}, {len(expected['cases'])} cases, "
                f"min margin {min(margins):.3f}, {time.monotonic() - started:.1f}s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
