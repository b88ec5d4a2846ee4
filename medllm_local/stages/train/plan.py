"""What the hardware decides, before anything is loaded: the device, the weights'
precision, optimizer, attention kernel, batching, batch size and sequence length, and
whether the model fits the GPU at all (with what would fit instead). Kept apart from
stages/train/trainer.py so the CUDA choices can be checked on a machine without CUDA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from medllm_local.core import models
from medllm_local.core.settings import Settings, setting

CPU_BUDGET_NOTE = "CPU: plain LoRA in fp32 (no bitsandbytes); slow, meant for small models"


class TrainError(RuntimeError):
    """Training cannot start or could not finish; the message says what to change."""


@dataclass
class TrainSettings(Settings):
    epochs: float = setting(3.0, "passes over the training pairs", minimum=0)
    max_steps: int = setting(-1, "stop after this many optimizer steps (overrides --epochs when > 0)",
                             minimum=-1)
    learning_rate: float = setting(2e-4, "peak learning rate (LoRA)", above=0, maximum=1)
    batch_size: int = setting(0, "sequences per step on the device; auto (0) picks by memory",
                              minimum=0, auto=0)
    grad_accum: int = setting(4, "gradient accumulation steps", minimum=1, advanced=True)
    warmup_ratio: float = setting(0.05, "share of steps to warm up", minimum=0, maximum=0.5,
                                  advanced=True)
    lora_r: int = setting(16, "LoRA rank", minimum=1, maximum=1024)
    lora_alpha: int = setting(32, "LoRA alpha", minimum=1, advanced=True)
    lora_dropout: float = setting(0.05, "LoRA dropout", minimum=0, maximum=0.9, advanced=True)
    max_length: int = setting(0, "tokens per sequence; auto (0) picks by memory and the data",
                              minimum=0, auto=0)
    batching: Literal["auto", "packed", "grouped", "padded"] = setting(
        "auto", "packed (pairs packed without padding), grouped (batches of similar length, padded "
                "to the longest) or padded (random batches); auto: packed on CUDA, grouped on CPU "
                "(what measured fastest on each)", advanced=True)
    attention: Literal["auto", "sdpa", "flash_attention_2", "flex_attention", "eager"] = setting(
        "auto", "attention kernel: auto (flash_attention_2 when installed, else sdpa)", advanced=True)
    quantize: Literal["auto", "4bit", "none"] = setting(
        "auto", "auto (4-bit NF4 on CUDA, none on CPU), 4bit or none", advanced=True)
    device: Literal["auto", "cuda", "cpu"] = setting("auto", "where to train", advanced=True)
    gpu_memory_gib: float = setting(
        0.0, "GPU memory this run may use, in GiB (auto or 0: the whole card); leave room for a chat "
             "model on the same card", minimum=0, auto=0.0)
    seed: int = setting(42, "random seed (data order, LoRA init)", advanced=True)
    save_every: int = setting(25, "checkpoint every N steps (resume point)", minimum=1, advanced=True)
    eval_every: int = setting(25, "validation loss every N steps", minimum=1, advanced=True)
    log_every: int = setting(1, "metrics every N steps", minimum=1, advanced=True)
    early_stopping: int = setting(0, "stop after N evaluations without a better validation loss "
                                     "(0: off)", minimum=0, advanced=True)

    def check(self) -> None:
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("give --epochs > 0 or --max-steps > 0")


@dataclass(frozen=True)
class HardwarePlan:
    """What the hardware decides: device, weights' precision, optimizer, memory budget."""

    device: str                 # cuda / cpu
    quantize_4bit: bool
    compute_dtype: str          # bfloat16 / float16 / float32
    optimizer: str
    gradient_checkpointing: bool
    batch_size: int
    max_length: int
    attention: str              # the attention kernel transformers is asked for
    batching: str               # packed / grouped / padded
    chunked_loss: bool          # TRL's vocabulary-chunked loss: no full logits in memory
    estimate_gib: float | None  # QLoRA estimate on CUDA; None on CPU
    gpu_gib: float | None
    note: str


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def flash_attention_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def kernel_choice(settings: TrainSettings, device: str, flash: bool) -> tuple[str, str]:
    """(attention kernel, batching), as measured by bench/train.py and bench/train_gpu.py.

    On CUDA, pairs packed without padding (position ids restart at each pair, so SDPA
    and flash attention keep each pair to itself) ran 3.5x the tokens/s of padded
    batches on an H200. On a CPU the packed row's block mask cost more than it saved,
    so batches of similar length, padded to their longest, are the default there."""
    attention = settings.attention
    if attention == "auto":
        attention = "flash_attention_2" if device == "cuda" and flash else "sdpa"
    batching = settings.batching
    if batching == "auto":
        batching = "packed" if device == "cuda" else "grouped"
    return attention, batching


# Float32 values each token keeps per layer for the backward pass on the CPU (inputs of
# the norms and projections, q/k/v, the MLP's three wide tensors and the LoRA inputs),
# in hidden and intermediate widths; calibrated on SmolLM2-135M (bench/train_memory.py:
# 12.1 GiB peak at batch 8 x 512 without checkpointing).
ACTIVATION_WIDTHS = (6, 5)
CPU_ACTIVATION_SHARE = 0.35  # of the memory free at the start: above it, checkpointing


def cpu_activation_gib(shape: models.ArchShape, batch: int, length: int) -> float:
    """Memory the activations of one CPU step take without gradient checkpointing."""
    per_token = (ACTIVATION_WIDTHS[0] * shape.hidden + ACTIVATION_WIDTHS[1] * shape.intermediate
                 + shape.heads * length)  # the attention weights (math kernel on the CPU)
    return shape.layers * batch * length * per_token * 4 / models.GiB


def available_ram_gib() -> float | None:
    """Memory free for a new process now (MemAvailable), in GiB; None where unknown."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        return None
    return None


def cpu_length(data_p95: int | None) -> int:
    """The CPU's sequence length: long enough for 95 % of the pairs (a multiple of 64,
    256 to 2,048 tokens), 512 when their lengths are not known."""
    if not data_p95:
        return 512
    return min(2048, max(256, -(-data_p95 // 64) * 64))


def length_note(length: int, data_p95: int | None, data_max: int | None) -> str:
    """What the sequence length cuts of the pairs, if anything."""
    if data_p95 and data_p95 > length:
        return (f"; more than 5 % of the pairs are longer than {length} tokens (95th percentile "
                f"{data_p95}): their answers are cut, so raise --max-length or shorten the reports")
    if data_max and data_max > length:
        return f"; the longest pairs ({data_max} tokens) are cut at {length}"
    return ""


def hardware_plan(settings: TrainSettings, shape: models.ArchShape | None, *, cuda: bool,
                  gpu_gib: float | None = None, bf16: bool = True,
                  flash: bool = False, shards: int = 1, offload: bool = False,
                  data_p95: int | None = None, data_max: int | None = None,
                  ram_gib: float | None = None) -> HardwarePlan:
    """Choose how to train on this hardware, before anything is loaded.

    On CUDA the batch and sequence length are the largest that the QLoRA estimate fits
    into the card (1 GiB kept free); if nothing fits, TrainError says what would.
    ``shards`` > 1 is FSDP over that many cards: each holds its share of the weights,
    adapter and optimizer states, but its own activations; with ``offload`` (FSDP's CPU
    offload, the published recipe for 70B on two 24 GB cards) the shards wait in CPU
    memory and a card holds only the layers being computed. ``data_p95`` and ``data_max``
    (the pairs' token lengths, when known) size the CPU's sequence length and say what a
    length would cut. On the CPU, gradient checkpointing is chosen when the activations
    would take more than CPU_ACTIVATION_SHARE of ``ram_gib`` (the memory free)."""
    device = settings.device if settings.device != "auto" else ("cuda" if cuda else "cpu")
    if device == "cuda" and not cuda:
        raise TrainError("--device cuda asked for, but no CUDA GPU is visible to torch")
    if device == "cpu":
        if settings.quantize == "4bit":
            raise TrainError("4-bit training needs a CUDA GPU (bitsandbytes on CPU silently "
                             "stops LoRA learning); use --quantize none on CPU")
        attention, batching = kernel_choice(settings, "cpu", False)
        length, batch = settings.max_length or cpu_length(data_p95), settings.batch_size or 4
        activations = cpu_activation_gib(shape, batch, length) if shape is not None else 0.0
        checkpointing = ram_gib is not None and activations > CPU_ACTIVATION_SHARE * ram_gib
        note = CPU_BUDGET_NOTE + (
            f"; gradient checkpointing (the activations, ~{activations:.1f} GiB, would take over "
            f"{CPU_ACTIVATION_SHARE:.0%} of the {ram_gib:.0f} GiB free)" if checkpointing else "")
        return HardwarePlan("cpu", False, "float32", "adamw_torch", checkpointing, batch, length,
                            attention, batching, False, None, None,
                            note + length_note(length, data_p95, data_max))
    quantize = settings.quantize != "none"
    dtype = "bfloat16" if bf16 else "float16"
    batch, length, estimate = settings.batch_size or 1, settings.max_length or 2048, None
    if shape is not None and gpu_gib is not None:
        budget = gpu_gib - 1.0
        lengths = [settings.max_length] if settings.max_length else [2048, 1024, 512]
        batches = [settings.batch_size] if settings.batch_size else [8, 4, 2, 1]
        fitting = [(b * n, b, n) for n in lengths for b in batches
                   if _estimate(shape, n, b, settings.lora_r, quantize, shards, offload) <= budget]
        if not fitting:
            raise TrainError(not_fitting_advice(shape, gpu_gib, lengths[-1], quantize, shards,
                                                offload))
        # Longest sequences first (fewer pairs cut), then the biggest batch at that length.
        _, batch, length = max(fitting, key=lambda item: (item[2], item[1]))
        estimate = round(_estimate(shape, length, batch, settings.lora_r, quantize, shards,
                                   offload), 2)
    note = ("QLoRA: 4-bit NF4 weights, double quantization, paged 8-bit AdamW" if quantize
            else "LoRA on 16-bit weights") + (f", FSDP over {shards} GPUs" if shards > 1 else "") + (
                ", parameters offloaded to CPU memory" if offload else "")
    attention, batching = kernel_choice(settings, "cuda", flash)
    note += length_note(length, data_p95, data_max)
    return HardwarePlan("cuda", quantize, dtype, "paged_adamw_8bit" if quantize else "adamw_torch",
                        True, batch, length, attention, batching, True, estimate, gpu_gib, note)


def _estimate(shape: models.ArchShape, seq_len: int, batch: int, lora_r: int, quantize: bool,
              shards: int = 1, offload: bool = False) -> float:
    parts = models.estimate_qlora_gib(shape, seq_len=seq_len, batch=batch, lora_r=lora_r)
    weights = parts["weights"]
    if not quantize:  # 16-bit weights instead of ~0.55 byte per parameter
        body = shape.parameters - shape.embedding_parameters
        weights += body * (2 - 0.55) / models.GiB
    # FSDP shards what every card would otherwise hold in full; activations stay per card.
    sharded = (weights + parts["lora_and_optimizer"]) / shards
    if offload:  # only the layer computed and the one prefetched are on the card, whole
        sharded = 2 * weights / shape.layers
    return sharded + parts["activations"] + parts["logits"] + parts["cuda_overhead"]


def not_fitting_advice(shape: models.ArchShape, gpu_gib: float, seq_len: int, quantize: bool = True,
                       shards: int = 1, offload: bool = False) -> str:
    need = _estimate(shape, seq_len, 1, 16, quantize, shards, offload)
    fits = [row["model"] for row in models.fit_table(gpu_gib, seq_len=seq_len) if row["fits"]]
    return (f"will not fit: a {shape.parameters / 1e9:.1f}B model needs ~{need:.1f} GiB for "
            f"QLoRA at sequence length {seq_len}, batch 1; this GPU has {gpu_gib:.1f} GiB. "
            f"What would fit: {', '.join(fits) or 'none of the reference sizes'}"
            " (or a shorter --max-length).")


def out_of_memory_advice(shape: models.ArchShape, plan: HardwarePlan) -> str:
    """What to say when the GPU ran out of memory although the estimate said it fits
    (another program on the card, a longer-than-usual batch)."""
    smaller = [f"--batch-size {max(1, plan.batch_size // 2)}"] if plan.batch_size > 1 else []
    if plan.max_length > 512:
        smaller.append(f"--max-length {plan.max_length // 2}")
    fits = [row["model"] for row in models.fit_table(plan.gpu_gib, seq_len=plan.max_length) if row["fits"]]
    return (f"out of GPU memory at batch {plan.batch_size}, sequence length {plan.max_length} "
            f"(estimated {plan.estimate_gib} GiB of the {plan.gpu_gib:.1f} GiB allowed; is another "
            f"program using the GPU?). Try {' or '.join(smaller) or 'a smaller model'}; "
            f"sizes that fit this GPU: {', '.join(fits) or 'none of the reference sizes'}. "
            "The run's last checkpoint is kept: resume it after changing nothing else, or start anew.")
