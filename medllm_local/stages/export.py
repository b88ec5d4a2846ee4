"""Adapter + base -> merged Hugging Face folder -> f16 GGUF (the runtime's own llama.cpp
converter) -> quantized GGUF (the runtime's own quantizer), then checks that the file
loads, stops by itself, leaks no template markup, agrees with the merged model, and lost
no more than a stated margin of perplexity to quantization."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medllm_local.core import models
from medllm_local.core.prompts import SYSTEM_PROMPT
from medllm_local.core.settings import Settings, setting

TOOLS = models.PROJECT_ROOT / "tools" / "llama.cpp"
QUANT_TYPES = {"F16": 1, "Q8_0": 7, "Q5_K_M": 17, "Q4_K_M": 15}  # llama.cpp's llama_ftype
# How much higher than the f16 file's perplexity each quantization may be (relative).
# For 1B+ models, about twice what llama.cpp's published tables show for 7-8B models.
# Smaller models lose more, and their K-quants fall back to other types on tensors whose
# width is not a multiple of 256 (SmolLM2-135M measured +1.0 % Q8_0, +10.7 % Q5_K_M,
# +6.9 % Q4_K_M on held-out demo pairs).
PERPLEXITY_MARGIN = {"F16": 0.001, "Q8_0": 0.02, "Q5_K_M": 0.05, "Q4_K_M": 0.08}
SMALL_MODEL_MARGIN = {"F16": 0.001, "Q8_0": 0.03, "Q5_K_M": 0.15, "Q4_K_M": 0.15}


def perplexity_margin(quant: str, parameters: int) -> float:
    return (PERPLEXITY_MARGIN if parameters >= 1e9 else SMALL_MODEL_MARGIN)[quant]


END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>", "<|end|>",
               "<|endoftext|>", "</s>")
TEMPLATE_MARKUP = ("<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<start_of_turn>", "<end_of_turn>", "[INST]", "[/INST]",
                   "<|endoftext|>", "<|end|>", "</s>")


class ExportError(RuntimeError):
    """An export step failed; the message names the step and the reason."""


@dataclass
class ExportSettings(Settings):
    quant: Literal["Q4_K_M", "Q5_K_M", "Q8_0", "F16"] = setting("Q4_K_M", "quantization of the GGUF")
    agreement_prompts: int = setting(4, "held-out pairs on which the f16 GGUF must agree with the "
                                        "merged model", minimum=0, maximum=64, advanced=True)
    min_agreement: float = setting(0.99, "least share of positions where both pick the same next token",
                                   minimum=0, maximum=1, advanced=True)
    perplexity_pairs: int = setting(8, "held-out pairs for the quantized-vs-f16 perplexity check",
                                    minimum=0, maximum=256, advanced=True)
    adapter_only: bool = setting(False, "export only the LoRA as a GGUF for the base model's f16 GGUF "
                                        "(no merge: seconds, for fast iteration)", advanced=True)

    def __post_init__(self) -> None:
        self.quant = str(self.quant).upper()  # "q4_k_m" is what people type
        super().__post_init__()


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class ExportResult:
    gguf: str
    f16_gguf: str
    merged: str
    quant: str
    checks: list[Check]
    seconds: dict[str, float]
    fallbacks: list[str]
    modelfile: str
    model_card: str
    lora: str | None = None  # adapter-only export: the LoRA GGUF applied on ``gguf``

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


# -- steps -----------------------------------------------------------------------------
def end_of_turn_ids(tokenizer) -> list[int]:
    """The token ids that end an assistant turn: the tokenizer's EOS and every known
    end-of-turn token it has (a GGUF that misses one never stops generating)."""
    vocab = tokenizer.get_vocab()
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    return list(dict.fromkeys(ids + [vocab[t] for t in END_OF_TURN if t in vocab]))


def merge_adapter(base: Path, adapter: Path, out: Path) -> Path:
    """Base weights in 16/32 bits (never 4-bit) plus the LoRA adapter, merged and saved
    with the tokenizer, chat template and a generation config that stops at every
    end-of-turn token. Written to a staging folder and renamed: never half a model."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    shape = models.ArchShape.from_config(json.loads((base / "config.json").read_text()))
    dtype = torch.bfloat16 if shape.parameters > 1e9 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(adapter if (adapter / "tokenizer_config.json").exists() else base)
    staging = Path(tempfile.mkdtemp(prefix=".merging-", dir=out.parent))
    try:
        merged.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        generation = GenerationConfig.from_model_config(merged.config)
        generation.eos_token_id = end_of_turn_ids(tokenizer)
        generation.pad_token_id = tokenizer.pad_token_id
        generation.save_pretrained(staging)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _run_converter(script_name: str, args: list[str], out_file: Path) -> Path:
    """Run one of llama.cpp's converters (from the sdist the runtime was built from),
    offline, writing to a partial file renamed when complete."""
    script = TOOLS / script_name
    if not script.exists():
        raise ExportError(f"llama.cpp's converter is missing ({script}); run "
                          "`python3 installer/install.py` to install it")
    partial = out_file.with_name(out_file.name + ".partial")
    env = os.environ | {"PYTHONPATH": str(TOOLS / "gguf-py"), "HF_HUB_OFFLINE": "1",
                        "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(script), *args, "--outfile", str(partial)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        last = [line for line in done.stderr.splitlines() if line.strip()][-3:]
        raise ExportError(f"{script_name} failed: " + " | ".join(last))
    partial.rename(out_file)
    return out_file


def convert_to_gguf(hf_dir: Path, out_file: Path, outtype: str = "f16") -> Path:
    """A Hugging Face model folder -> GGUF (convert_hf_to_gguf.py)."""
    return _run_converter("convert_hf_to_gguf.py", [str(hf_dir), "--outtype", outtype], out_file)


def convert_adapter_to_gguf(base: Path, adapter: Path, out_file: Path) -> Path:
    """A peft LoRA adapter -> LoRA GGUF that llama.cpp applies on the base GGUF at load
    (convert_lora_to_gguf.py): seconds instead of a full merge, for fast iteration."""
    return _run_converter("convert_lora_to_gguf.py",
                          ["--base", str(base), "--outtype", "f16", str(adapter)], out_file)


def quantize(source: Path, target: Path, quant: str) -> list[str]:
    """Quantize with the runtime's own llama_model_quantize. Returns llama.cpp's notes on
    tensors whose shape does not fit the K-quant and got a fallback type."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    params.nthread = os.cpu_count() or 1
    partial = target.with_name(target.name + ".partial")
    # llama.cpp's log reaches stderr from C, or through llama-cpp-python's callback into
    # sys.stderr: catch both to read what it says about fallbacks.
    python_log = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as log, contextlib.redirect_stderr(python_log):
        sys.__stderr__.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), params)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        said = log.read().decode("utf-8", errors="replace") + python_log.getvalue()
    if status != 0:
        partial.unlink(missing_ok=True)
        raise ExportError(f"quantization to {quant} failed (llama.cpp status {status})")
    partial.rename(target)
    notes = [" ".join(line.split()) for line in said.splitlines() if "fallback" in line.lower()]
    return list(dict.fromkeys(notes))


# -- checks ----------------------------------------------------------------------------
def _load(gguf: Path, n_ctx: int = 1024, logits: bool = False, lora: Path | None = None):
    import llama_cpp

    return llama_cpp.Llama(model_path=str(gguf), n_ctx=n_ctx, logits_all=logits, n_gpu_layers=-1,
                           seed=0, verbose=False, lora_path=str(lora) if lora else None)


def _gguf_logits(llm, ids: list[int]):
    llm.reset()
    llm.eval(ids)
    return llm.scores[:len(ids)].copy()


def _nll(logits, ids: list[int]) -> tuple[float, int]:
    """Summed negative log-likelihood of ids[1:] given the logits at the positions before."""
    import numpy as np

    logits = logits[:-1].astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    picked = logits[np.arange(len(ids) - 1), ids[1:]]
    return float((log_z - picked).sum()), len(ids) - 1


def check_metadata_and_answer(gguf: Path, expected_eos: list[int], messages: list[dict],
                              lora: Path | None = None) -> list[Check]:
    llm = _load(gguf, lora=lora)
    try:
        meta = llm.metadata
        template = meta.get("tokenizer.chat_template", "")
        eos = int(meta.get("tokenizer.ggml.eos_token_id", -1))
        checks = [Check("loads_with_chat_template", bool(template) and eos in expected_eos,
                        f"chat template {len(template)} characters; EOS id {eos} "
                        f"({'an' if eos in expected_eos else 'not an'} end-of-turn id of the model: {expected_eos})")]
        reply = llm.create_chat_completion(messages, max_tokens=256, temperature=0.0)
        choice = reply["choices"][0]
        text = choice["message"]["content"] or ""
        tokens = reply["usage"]["completion_tokens"]
        checks.append(Check("stops_by_itself", choice["finish_reason"] == "stop",
                            f"stopped after {tokens} tokens ({choice['finish_reason']}; limit 256)"))
        leaked = [m for m in TEMPLATE_MARKUP if m in text]
        checks.append(Check("no_template_markup", not leaked,
                            f"found {', '.join(leaked)}" if leaked else f"clean answer of {len(text)} characters"))
        return checks
    finally:
        llm.close()


def check_agreement(hf_model, tokenizer, gguf: Path, texts: list[str], min_agreement: float,
                    lora: Path | None = None) -> Check:
    """Top-1 next-token agreement between a Hugging Face model (merged, or base with the
    adapter) and the GGUF (with the LoRA GGUF) on the same token ids, at every position."""
    import torch

    llm = _load(gguf, n_ctx=1024, logits=True, lora=lora)
    same = total = 0
    try:
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][:1024]
            with torch.no_grad():
                hf_top = hf_model(torch.tensor([ids])).logits[0].argmax(-1).numpy()
            gguf_top = _gguf_logits(llm, ids).argmax(-1)
            same += int((hf_top == gguf_top).sum())
            total += len(ids)
    finally:
        llm.close()
    share = same / total if total else 0.0
    return Check("agrees_with_merged_model" if lora is None else "agrees_with_adapter_model",
                 total > 0 and share >= min_agreement,
                 f"same next token at {share:.4f} of {total} positions (needs {min_agreement})")


def check_perplexity(f16: Path, quantized: Path, texts: list[str], quant: str, tokenizer,
                     margin: float) -> Check:
    import math

    token_lists = [tokenizer(t, add_special_tokens=False)["input_ids"][:1024] for t in texts]
    perplexities = {}
    for name, path in (("f16", f16), (quant, quantized)):
        llm = _load(path, n_ctx=1024, logits=True)
        try:
            nll = [_nll(_gguf_logits(llm, ids), ids) for ids in token_lists if len(ids) > 1]
        finally:
            llm.close()
        perplexities[name] = math.exp(sum(n for n, _ in nll) / max(1, sum(c for _, c in nll)))
    increase = perplexities[quant] / perplexities["f16"] - 1
    return Check("perplexity_within_margin", increase <= margin,
                 f"{quant} {perplexities[quant]:.3f} vs f16 {perplexities['f16']:.3f} on "
                 f"{len(token_lists)} held-out pairs: {increase:+.2%} (margin {margin:.0%})")


def _hf(folder: Path, adapter: Path | None = None):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return (PeftModel.from_pretrained(model, adapter) if adapter else model).eval()


# -- side files ------------------------------------------------------------------------
OLLAMA_TEMPLATES = {  # chat-template family -> Ollama TEMPLATE (Go template syntax)
    "<|im_start|>": ('{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
                     '{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}'
                     '<|im_start|>assistant\n{{ .Response }}<|im_end|>\n'),
    "<|start_header_id|>": ('{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n'
                            '{{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>'
                            'user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}'
                            '<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>'),
    "<start_of_turn>": ('<start_of_turn>user\n{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}'
                        '<end_of_turn>\n<start_of_turn>model\n{{ .Response }}<end_of_turn>\n'),
}


def modelfile(gguf: Path, chat_template: str, stop_tokens: list[str], adapter: Path | None = None) -> str:
    """An Ollama Modelfile: the GGUF, a TEMPLATE matching its chat template (when the
    family is known; else Ollama reads the GGUF's own), a stop for every end-of-turn
    token, and the system prompt the model was trained with."""
    lines = [f"FROM {gguf}" if adapter else f"FROM ./{gguf.name}"]
    if adapter:
        lines.append(f"ADAPTER ./{adapter.name}")
    family = next((marker for marker in OLLAMA_TEMPLATES if marker in chat_template), None)
    if family:
        lines.append(f'TEMPLATE """{OLLAMA_TEMPLATES[family]}"""')
    lines += [f'PARAMETER stop "{token}"' for token in stop_tokens]
    lines += ["PARAMETER temperature 0.2", f'SYSTEM """{SYSTEM_PROMPT}"""']
    return "\n".join(lines) + "\n"


def model_card(info: dict, checks: list[Check]) -> str:
    rows = "\n".join(f"| {c.name} | {'passed' if c.passed else 'FAILED'} | {c.detail} |" for c in checks)
    return (f"# {info['name']}\n\nA fine-tune made by medllm-local on the physician's own "
            "de-identified reports. It supports, and does not replace, clinical judgement.\n\n"
            + "".join(f"- {key.replace('_', ' ')}: {value}\n" for key, value in info.items() if key != "name")
            + f"\n## Checks\n\n| check | result | detail |\n|---|---|---|\n{rows}\n")


def write_side_files(out_dir: Path, gguf: Path, tokenizer, checks: list[Check], info: dict,
                     adapter: Path | None = None) -> tuple[Path, Path]:
    """The Ollama Modelfile (a stop for each end-of-turn token the model has) and the
    model card, beside the GGUF."""
    vocab, eos_ids = tokenizer.get_vocab(), end_of_turn_ids(tokenizer)
    stops = [t for t in END_OF_TURN if t in vocab and vocab[t] in eos_ids]
    files = out_dir / "Modelfile", out_dir / "MODEL_CARD.md"
    files[0].write_text(modelfile(gguf, tokenizer.chat_template or "", stops, adapter=adapter))
    files[1].write_text(model_card(info, checks))
    return files


# -- the stage -------------------------------------------------------------------------
def export(base: Path, adapter: Path, out_dir: Path, held_out: list[list[dict]],
           settings: ExportSettings, info: dict, progress=None) -> ExportResult:
    """Merge, convert, quantize and check; the files stay in ``out_dir`` even when a
    check fails (for inspection). ``held_out`` pairs (messages) feed the checks."""
    from transformers import AutoTokenizer

    say = progress or (lambda step, done, total: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = models.ArchShape.from_config(json.loads((base / "config.json").read_text())).parameters
    need = params * (4 + 2 + 1) if params <= 1e9 else params * (2 + 2 + 1)  # merged + f16 + quant
    free = shutil.disk_usage(out_dir).free
    if free < need:
        raise ExportError(f"not enough disk space in {out_dir}: about {need / 1e9:.1f} GB needed, "
                          f"{free / 1e9:.1f} GB free")
    seconds: dict[str, float] = {}
    steps = 5

    def timed(name: str, index: int, function):
        say(name, index, steps)
        started = time.monotonic()
        value = function()
        seconds[name] = round(time.monotonic() - started, 2)
        return value

    merged = timed("merge", 0, lambda: merge_adapter(base, adapter, out_dir / "merged"))
    f16 = timed("convert", 1, lambda: convert_to_gguf(merged, out_dir / "model-f16.gguf"))
    target = out_dir / f"model-{settings.quant}.gguf"
    fallbacks = [] if settings.quant == "F16" else timed(
        "quantize", 2, lambda: quantize(f16, target, settings.quant))
    if settings.quant == "F16":
        target = f16
    tokenizer = AutoTokenizer.from_pretrained(merged)
    eos_ids = end_of_turn_ids(tokenizer)
    texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in held_out]
    question = held_out[0][:-1] if held_out else [{"role": "system", "content": SYSTEM_PROMPT},
                                                   {"role": "user", "content": "Fever and cough for "
                                                    "three days; what is the most likely diagnosis?"}]
    checks = timed("check_answer", 3, lambda: check_metadata_and_answer(target, eos_ids, question))
    checks.append(timed("check_agreement", 4, lambda: check_agreement(
        _hf(merged), tokenizer, f16, texts[:settings.agreement_prompts], settings.min_agreement)))
    if settings.quant != "F16" and texts:
        checks.append(check_perplexity(f16, target, texts[:settings.perplexity_pairs],
                                       settings.quant, tokenizer, perplexity_margin(settings.quant, params)))
    say("done", steps, steps)
    files = write_side_files(out_dir, target, tokenizer, checks,
                             info | {"quantization": settings.quant, "gguf": target.name,
                                     "quantization_fallbacks": len(fallbacks)})
    return ExportResult(gguf=str(target), f16_gguf=str(f16), merged=str(merged), quant=settings.quant,
                        checks=checks, seconds=seconds, fallbacks=fallbacks,
                        modelfile=str(files[0]), model_card=str(files[1]))


def export_adapter(base: Path, adapter: Path, out_dir: Path, base_gguf: Path,
                   held_out: list[list[dict]], settings: ExportSettings, info: dict,
                   progress=None) -> ExportResult:
    """Adapter-only export: the base model's f16 GGUF (converted once, reused) and the
    LoRA as its own GGUF; llama.cpp applies it at load. Checked like a full export."""
    from transformers import AutoTokenizer

    say = progress or (lambda step, done, total: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    if not base_gguf.exists():
        say("convert base", 0, 3)
        base_gguf.parent.mkdir(parents=True, exist_ok=True)
        convert_to_gguf(base, base_gguf)
        seconds["convert_base"] = round(time.monotonic() - started, 2)
    say("convert adapter", 1, 3)
    started = time.monotonic()
    lora = convert_adapter_to_gguf(base, adapter, out_dir / "adapter-f16.gguf")
    seconds["convert_adapter"] = round(time.monotonic() - started, 2)
    say("check", 2, 3)
    tokenizer = AutoTokenizer.from_pretrained(adapter if (adapter / "tokenizer_config.json").exists() else base)
    texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in held_out]
    question = held_out[0][:-1] if held_out else [{"role": "user", "content": "Fever and cough: diagnosis?"}]
    checks = check_metadata_and_answer(base_gguf, end_of_turn_ids(tokenizer), question, lora=lora)
    checks.append(check_agreement(_hf(base, adapter), tokenizer, base_gguf,
                                  texts[:settings.agreement_prompts], settings.min_agreement, lora=lora))
    say("done", 3, 3)
    files = write_side_files(out_dir, base_gguf, tokenizer, checks,
                             info | {"export": "adapter only (LoRA GGUF on the base GGUF)",
                                     "base_gguf": str(base_gguf)}, adapter=lora)
    return ExportResult(gguf=str(base_gguf), f16_gguf=str(base_gguf), merged="", quant="F16",
                        checks=checks, seconds=seconds, fallbacks=[], modelfile=str(files[0]),
                        model_card=str(files[1]), lora=str(lora))
