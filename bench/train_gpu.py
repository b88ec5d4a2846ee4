"""QLoRA on CUDA, measured on the GPU machine (run it whenever a GPU is at hand):

1. the real CUDA path of stages/train/trainer.py on the embedded model's architecture (SmolLM2-135M:
   4-bit NF4 weights, paged 8-bit AdamW, bf16, gradient checkpointing): tokens/s, peak
   VRAM, loss falling, only LoRA weights changing, adapter reload giving the same output;
2. bench/train.py's side-by-side comparison on CUDA (ours vs padded Trainer baselines);
3. an 8B model (Llama-3.1-8B's shape) under a 24 GiB cap, as on an RTX 4090: does it
   train at sequence length 2048, and how does peak VRAM compare with our estimate;
4. a real out-of-memory error (estimate bypassed) turned into the fitting advice.

    python bench/train_gpu.py --tokenizer DIR [--sections 1,2,3,4] [--out FILE]

Weights are random where no real checkpoint can be had offline (memory and speed do not
depend on their values); the tokenizer and chat template are SmolLM2's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import medllm_local  # noqa: E402,F401  (offline guard first)
from tests.support import tiny_models  # noqa: E402
from medllm_local.core import models
from medllm_local.stages.train import trainer as train
from tests.support.cases import demo_pairs  # noqa: E402

LLAMA_8B = {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
            "tie_word_embeddings": False, "rope_theta": 500000.0}


def smollm_shaped(tokenizer: Path, folder: Path) -> Path:
    config = json.loads((tokenizer / "config.json").read_text())
    sizes = {k: config[k] for k in tiny_models.TINY_SIZES}
    return tiny_models.tiny_model(folder, tokenizer, "llama", initializer_range=0.02, **sizes)


def section_cuda_path(tokenizer: Path, work: Path) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = smollm_shaped(tokenizer, work / "smollm2-shape")
    pairs = demo_pairs(4)
    settings = train.TrainSettings(max_steps=30, learning_rate=1e-3, grad_accum=1, save_every=10,
                                   eval_every=10, batch_size=8, max_length=1024)
    out = work / "run-cuda"
    result = train.train(base, pairs[:-6], pairs[-6:], out, settings)
    # What changed: load the saved adapter on a fresh 4-bit base and compare outputs with
    # the base alone (LoRA active) and with the adapter switched off (identical to base).
    plan = train.hardware_plan(settings, None, cuda=True)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16, device_map={"": 0},
                                                 quantization_config=train.bnb_config(plan))
    tok = AutoTokenizer.from_pretrained(base)
    ids = tok.apply_chat_template(pairs[0][:-1], add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"].to(0)
    with torch.no_grad():
        base_logits = model(ids).logits.float()
        tuned = PeftModel.from_pretrained(model, result.adapter)
        tuned_logits = tuned(ids).logits.float()
        again = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16, device_map={"": 0},
                                                 quantization_config=train.bnb_config(plan)),
            result.adapter)(ids).logits.float()
        with tuned.disable_adapter():
            off_logits = tuned(ids).logits.float()
    four_bit = sum(1 for m in model.modules() if type(m).__name__ == "Linear4bit")
    return {"plan": result.plan, "steps": result.steps, "first_loss": result.losses[0],
            "last_loss": result.losses[-1], "eval_losses": result.eval_losses,
            "tokens_per_second": result.tokens_per_second, "peak_vram_gib": result.peak_memory_gib,
            "linear4bit_modules": four_bit,
            "adapter_changes_output": float((tuned_logits - base_logits).abs().max()),
            "adapter_off_equals_base": float((off_logits - base_logits).abs().max()),
            "reload_max_diff": float((again - tuned_logits).abs().max()),
            "seconds": result.seconds}


def section_compare(tokenizer: Path, work: Path) -> dict:
    import importlib

    # bench/train.py, importable by name so its measurements can run in spawned processes
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    compare = importlib.import_module("train").compare

    base = smollm_shaped(tokenizer, work / "smollm2-shape-cmp")
    settings = train.TrainSettings(max_steps=12, batch_size=8, grad_accum=1, max_length=1024,
                                   save_every=10_000, eval_every=10_000)
    return compare(base, settings, copies=4, variants=(("grouped", "sdpa"), ("packed", "sdpa"),
                                                        ("packed", "flex_attention")))


def long_pairs(count: int, tokens: int, tokenizer: Path) -> list[list[dict]]:
    """Pairs about ``tokens`` long: demo pairs whose report is repeated to length."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer)
    pairs = []
    for messages in demo_pairs(1)[:count]:
        user = messages[1]["content"]
        while len(tok(user)["input_ids"]) < tokens - 150:
            user += "\n" + messages[1]["content"]
        ids = tok(user)["input_ids"][:tokens - 150]
        pairs.append([messages[0], {"role": "user", "content": tok.decode(ids)}, messages[2]])
    return pairs


def section_8b(tokenizer: Path, work: Path, cap_gib: float = 24.0) -> dict:
    """Llama-3.1-8B's shape under a 24 GiB cap: peak VRAM against our estimate at a few
    sequence lengths and batch sizes (the model is made once, random, and saved)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = work / "llama-8b-shape"
    started = time.monotonic()
    config = AutoConfig.for_model("llama", max_position_embeddings=8192, **LLAMA_8B)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="4GB")
    del model
    torch.cuda.empty_cache()
    AutoTokenizer.from_pretrained(tokenizer).save_pretrained(folder)
    shape = models.ArchShape.from_config(config.to_dict())
    report = {"model_made_seconds": round(time.monotonic() - started, 1),
              "parameters_b": round(shape.parameters / 1e9, 2), "cap_gib": cap_gib, "runs": []}
    for seq_len, batch in ((2048, 1), (2048, 2), (4096, 1)):
        pairs = long_pairs(8, seq_len, tokenizer)
        settings = train.TrainSettings(max_steps=4, grad_accum=1, max_length=seq_len, batch_size=batch,
                                       gpu_memory_gib=cap_gib, save_every=10_000, eval_every=10_000,
                                       batching="padded")
        torch.cuda.reset_peak_memory_stats()
        result = train.train(folder, pairs, [], work / f"run-8b-{seq_len}-{batch}", settings)
        report["runs"].append({
            "seq_len": seq_len, "batch": batch,
            "estimate_gib": models.estimate_qlora_gib(shape, seq_len=seq_len, batch=batch)["total"],
            "peak_allocated_gib": result.peak_memory_gib,
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / models.GiB, 2),
            "tokens_per_second": result.tokens_per_second, "losses": result.losses,
            "seconds": result.seconds})
        torch.cuda.empty_cache()
    return report


def section_oom(tokenizer: Path, work: Path) -> dict:
    base = work / "smollm2-shape"
    if not base.exists():
        smollm_shaped(tokenizer, base)

    from medllm_local.stages.train import plan as train_plan

    real_estimate = train_plan._estimate
    train_plan._estimate = lambda *args: 0.1  # pretend it fits, so the GPU itself says no
    try:
        settings = train.TrainSettings(max_steps=3, batch_size=64, max_length=2048, grad_accum=1,
                                       gpu_memory_gib=1.6, batching="padded", save_every=10_000,
                                       eval_every=10_000)
        train.train(base, long_pairs(8, 2048, tokenizer) * 8, [], work / "run-oom", settings)
        return {"raised": False}
    except train.TrainError as error:
        # "out of GPU memory: ..." is the real error caught; "will not fit" would be the plan
        return {"raised": True, "real_oom": str(error).startswith("out of GPU memory"),
                "message": str(error)}
    finally:
        train_plan._estimate = real_estimate


SECTIONS = {"1": ("cuda_path", section_cuda_path), "2": ("compare", section_compare),
            "3": ("llama_8b_24gib", section_8b), "4": ("oom_advice", section_oom)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", type=Path, required=True,
                        help="folder with SmolLM2's tokenizer and config.json")
    parser.add_argument("--sections", default="1,3,4,2")
    parser.add_argument("--budget", type=float, default=1e9,
                        help="seconds; sections not started by then are skipped")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    import torch

    report: dict = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
                    "gpu_total_gib": round(torch.cuda.get_device_properties(0).total_memory / models.GiB, 1)}
    for module in ("transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets"):
        report[module] = __import__(module).__version__
    work = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    begun = time.monotonic()
    for key in args.sections.split(","):
        name, function = SECTIONS[key]
        started = time.monotonic()
        if started - begun > args.budget:
            report[name] = {"skipped": "time budget spent"}
            continue
        try:
            report[name] = function(args.tokenizer, work)
        except Exception as error:  # one section failing must not lose the others' numbers
            report[name] = {"error": f"{type(error).__name__}: {error}",
                            "trace": traceback.format_exc()[-3000:]}
        report[name + "_wall_seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: report[name]}, indent=1), file=sys.stderr, flush=True)
        if args.out:
            args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
