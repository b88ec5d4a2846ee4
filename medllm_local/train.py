"""Pairs + base model -> LoRA adapter: QLoRA on CUDA, plain LoRA on CPU, one code path.

TRL's SFTTrainer does the work. Pairs go in as prompt/completion conversations, so the
base model's own chat template renders them and only the assistant's answer carries loss.
Short medical pairs are packed without padding (best-fit decreasing, position ids mark
where each pair starts, so attention never crosses pairs). Every choice that depends on
the hardware is made in ``hardware_plan`` so it can be checked without the hardware.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medllm_local import models

ADAPTER_FOLDER = "adapter"
CHECKPOINTS_FOLDER = "checkpoints"
METRICS_FILE = "metrics.jsonl"
CPU_BUDGET_NOTE = "CPU: plain LoRA in fp32 (no bitsandbytes); slow, meant for small models"


class TrainError(RuntimeError):
    """Training cannot start or could not finish; the message says what to change."""


@dataclass
class TrainSettings:
    epochs: float = field(default=3.0, metadata={"help": "passes over the training pairs"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps "
                                                         "(overrides --epochs when > 0)"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate (LoRA)"})
    batch_size: int = field(default=0, metadata={"help": "sequences per step on the device; "
                                                         "0 picks by memory"})
    grad_accum: int = field(default=4, metadata={"help": "gradient accumulation steps"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps to warm up"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    max_length: int = field(default=0, metadata={"help": "tokens per sequence; 0 picks by memory"})
    batching: str = field(default="auto", metadata={
        "help": "packed (pairs packed without padding; pays with flash attention), grouped "
                "(batches of similar length, padded to the longest) or padded (random "
                "batches); auto: packed with flash attention, else grouped"})
    attention: str = field(default="auto", metadata={
        "help": "attention kernel: auto (flash_attention_2 when installed, else sdpa), sdpa, "
                "flash_attention_2, flex_attention or eager"})
    quantize: str = field(default="auto", metadata={"help": "auto (4-bit NF4 on CUDA, none on "
                                                            "CPU), 4bit or none"})
    device: str = field(default="auto", metadata={"help": "auto, cuda or cpu"})
    gpu_memory_gib: float = field(default=0.0, metadata={
        "help": "GPU memory this run may use, in GiB (0: the whole card); leave room for a "
                "chat model on the same card"})
    seed: int = field(default=42, metadata={"help": "random seed (data order, LoRA init)"})
    save_every: int = field(default=25, metadata={"help": "checkpoint every N steps (resume point)"})
    eval_every: int = field(default=25, metadata={"help": "validation loss every N steps"})
    log_every: int = field(default=1, metadata={"help": "metrics every N steps"})
    early_stopping: int = field(default=0, metadata={"help": "stop after N evaluations without a "
                                                             "better validation loss (0: off)"})

    def __post_init__(self) -> None:
        if self.quantize not in ("auto", "4bit", "none"):
            raise ValueError(f"quantize must be auto, 4bit or none, not {self.quantize!r}")
        if self.batching not in ("auto", "packed", "grouped", "padded"):
            raise ValueError(f"batching must be auto, packed, grouped or padded, not {self.batching!r}")
        if self.attention not in ("auto", "sdpa", "flash_attention_2", "flex_attention", "eager"):
            raise ValueError(f"unknown attention kernel {self.attention!r}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"device must be auto, cuda or cpu, not {self.device!r}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("give --epochs > 0 or --max-steps > 0")
        if min(self.grad_accum, self.lora_r, self.save_every, self.eval_every, self.log_every) < 1:
            raise ValueError("grad_accum, lora_r, save_every, eval_every and log_every must be >= 1")


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
    estimate_gib: float | None  # QLoRA estimate on CUDA; None on CPU
    gpu_gib: float | None
    note: str


@dataclass
class TrainResult:
    adapter: str
    steps: int
    max_steps: int
    losses: list[float]
    eval_losses: list[float]
    tokens: int
    seconds: float
    tokens_per_second: float
    peak_memory_gib: float
    device: str
    stopped: bool
    best_checkpoint: str | None
    plan: dict


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def flash_attention_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def kernel_choice(settings: TrainSettings, device: str, flash: bool) -> tuple[str, str]:
    """(attention kernel, batching). Packing without padding only pays when the kernel
    attends within each packed pair (flash attention's variable-length path); with SDPA
    the packed row is one long sequence under a block mask, quadratic in its length, so
    batches of similar length padded to their longest are faster there (bench/train.py)."""
    attention = settings.attention
    if attention == "auto":
        attention = "flash_attention_2" if device == "cuda" and flash else "sdpa"
    batching = settings.batching
    if batching == "auto":
        batching = "packed" if attention == "flash_attention_2" else "grouped"
    return attention, batching


def hardware_plan(settings: TrainSettings, shape: models.ArchShape | None, *, cuda: bool,
                  gpu_gib: float | None = None, bf16: bool = True,
                  flash: bool = False) -> HardwarePlan:
    """Choose how to train on this hardware, before anything is loaded.

    On CUDA the batch and sequence length are the largest that the QLoRA estimate fits
    into the card (1 GiB kept free); if nothing fits, TrainError says what would."""
    device = settings.device if settings.device != "auto" else ("cuda" if cuda else "cpu")
    if device == "cuda" and not cuda:
        raise TrainError("--device cuda asked for, but no CUDA GPU is visible to torch")
    if device == "cpu":
        if settings.quantize == "4bit":
            raise TrainError("4-bit training needs a CUDA GPU (bitsandbytes on CPU silently "
                             "stops LoRA learning); use --quantize none on CPU")
        attention, batching = kernel_choice(settings, "cpu", False)
        return HardwarePlan("cpu", False, "float32", "adamw_torch", False,
                            settings.batch_size or 4, settings.max_length or 512, attention,
                            batching, None, None, CPU_BUDGET_NOTE)
    quantize = settings.quantize != "none"
    dtype = "bfloat16" if bf16 else "float16"
    batch, length, estimate = settings.batch_size or 1, settings.max_length or 2048, None
    if shape is not None and gpu_gib is not None:
        budget = gpu_gib - 1.0
        lengths = [settings.max_length] if settings.max_length else [2048, 1024, 512]
        batches = [settings.batch_size] if settings.batch_size else [8, 4, 2, 1]
        fitting = [(b * n, b, n) for n in lengths for b in batches
                   if _estimate(shape, n, b, settings.lora_r, quantize) <= budget]
        if not fitting:
            raise TrainError(not_fitting_advice(shape, gpu_gib, lengths[-1], quantize))
        # Longest sequences first (fewer pairs cut), then the biggest batch at that length.
        _, batch, length = max(fitting, key=lambda item: (item[2], item[1]))
        estimate = round(_estimate(shape, length, batch, settings.lora_r, quantize), 2)
    note = ("QLoRA: 4-bit NF4 weights, double quantization, paged 8-bit AdamW" if quantize
            else "LoRA on 16-bit weights")
    attention, batching = kernel_choice(settings, "cuda", flash)
    return HardwarePlan("cuda", quantize, dtype, "paged_adamw_8bit" if quantize else "adamw_torch",
                        True, batch, length, attention, batching, estimate, gpu_gib, note)


def _estimate(shape: models.ArchShape, seq_len: int, batch: int, lora_r: int, quantize: bool) -> float:
    parts = models.estimate_qlora_gib(shape, seq_len=seq_len, batch=batch, lora_r=lora_r)
    if not quantize:  # 16-bit weights instead of ~0.55 byte per parameter
        body = shape.parameters - shape.embedding_parameters
        parts["total"] += body * (2 - 0.55) / models.GiB
    return parts["total"]


def not_fitting_advice(shape: models.ArchShape, gpu_gib: float, seq_len: int, quantize: bool = True) -> str:
    need = _estimate(shape, seq_len, 1, 16, quantize)
    fits = [row["model"] for row in models.fit_table(gpu_gib, seq_len=seq_len) if row["fits"]]
    return (f"will not fit: a {shape.parameters / 1e9:.1f}B model needs ~{need:.1f} GiB for "
            f"QLoRA at sequence length {seq_len}, batch 1; this GPU has {gpu_gib:.1f} GiB. "
            f"What would fit: {', '.join(fits) or 'none of the reference sizes'}"
            " (or a shorter --max-length).")


# -- data ------------------------------------------------------------------------------
def conversation_rows(pairs: list[list[dict]]) -> list[dict]:
    """Messages lists -> prompt/completion conversations (TRL masks the prompt's loss)."""
    rows = []
    for messages in pairs:
        if len(messages) < 2 or messages[-1]["role"] != "assistant":
            raise TrainError("every training pair must end with the assistant's answer")
        rows.append({"prompt": messages[:-1], "completion": messages[-1:]})
    return rows


def read_messages(path: Path) -> list[list[dict]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


# -- model -----------------------------------------------------------------------------
def load_model(base: Path, plan: HardwarePlan, parent_adapter: Path | None, settings: TrainSettings):
    """The base model on the planned device with a trainable LoRA adapter on every
    linear projection (a parent adapter goes on training instead of a new one)."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, plan.compute_dtype)
    kwargs: dict = {"dtype": dtype, "attn_implementation": plan.attention}
    if plan.device == "cuda":
        kwargs["device_map"] = {"": 0}
        if plan.quantize_4bit:
            kwargs["quantization_config"] = bnb_config(plan)
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    model.config.use_cache = False
    if plan.gradient_checkpointing:
        # What peft's prepare_model_for_kbit_training does, less its upcast of every
        # 16-bit weight to fp32: for an 8B model that alone adds ~2 GiB (embeddings and
        # head), more than a 24 GB card can spare at sequence length 2048.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if parent_adapter:
        return PeftModel.from_pretrained(model, parent_adapter, is_trainable=True)
    return get_peft_model(model, LoraConfig(
        r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
        target_modules="all-linear", task_type="CAUSAL_LM"))


def bnb_config(plan: HardwarePlan):
    """QLoRA as in the paper: NF4 with double quantization, 16-bit compute."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=getattr(torch, plan.compute_dtype))


def sft_arguments(settings: TrainSettings, plan: HardwarePlan, output_dir: Path,
                  has_validation: bool) -> dict:
    """SFTConfig's arguments (a dict: SFTConfig refuses bf16 on a machine without a GPU,
    and the CUDA choices must be checkable anywhere)."""
    evaluate = has_validation
    return dict(
        output_dir=str(output_dir), seed=settings.seed, data_seed=settings.seed,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps,
        learning_rate=settings.learning_rate, lr_scheduler_type="cosine",
        warmup_steps=settings.warmup_ratio,  # a float below 1 is a ratio of all steps
        per_device_train_batch_size=plan.batch_size, per_device_eval_batch_size=plan.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        max_length=plan.max_length, packing=plan.batching == "packed", packing_strategy="bfd",
        train_sampling_strategy="group_by_length" if plan.batching == "grouped" else "random",
        completion_only_loss=True,
        optim=plan.optimizer, use_cpu=plan.device == "cpu",
        bf16=plan.compute_dtype == "bfloat16", fp16=plan.compute_dtype == "float16",
        gradient_checkpointing=plan.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=settings.log_every, logging_first_step=True,
        eval_strategy="steps" if evaluate else "no", eval_steps=settings.eval_every,
        save_strategy="steps", save_steps=settings.save_every, save_total_limit=2,
        load_best_model_at_end=evaluate, metric_for_best_model="eval_loss", greater_is_better=False,
        include_num_input_tokens_seen="non_padding",
        report_to="none", dataloader_num_workers=0, dataset_num_proc=None,
        model_init_kwargs=None,
    )


# -- progress --------------------------------------------------------------------------
MetricsSink = Callable[[dict], None]


def _progress_callback(sink: MetricsSink | None, metrics_file: Path, stop: threading.Event,
                       cuda: bool):
    """Trainer callback: one metrics row per log (loss, learning rate, tokens/s, memory,
    ETA) to the run's JSONL and the sink; a stop request saves a checkpoint and ends."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self) -> None:
            self.started = time.monotonic()
            self.first_step: int | None = None
            self.first_tokens = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()
            self.first_step = state.global_step
            self.first_tokens = state.num_input_tokens_seen

        def on_step_end(self, args, state, control, **kwargs):
            if stop.is_set():
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            elapsed = time.monotonic() - self.started
            done = state.global_step - (self.first_step or 0)
            row = {"step": state.global_step, "max_steps": state.max_steps,
                   "epoch": round(state.epoch or 0.0, 3), "seconds": round(elapsed, 1)}
            for key in ("loss", "eval_loss", "learning_rate", "grad_norm"):
                if key in logs:
                    row[key] = float(logs[key])
            tokens = state.num_input_tokens_seen - self.first_tokens
            row["tokens_per_second"] = round(tokens / elapsed, 1) if elapsed > 0 else 0.0
            row["memory_gib"] = round(peak_memory_gib(cuda), 3)
            row["eta_seconds"] = (round(elapsed / done * (state.max_steps - state.global_step), 1)
                                  if done > 0 else None)
            if "loss" not in row and "eval_loss" not in row:
                return control
            with metrics_file.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")
            if sink:
                sink(row)
            return self.on_step_end(args, state, control)  # a stop asked meanwhile: save now

    return Progress()


def peak_memory_gib(cuda: bool) -> float:
    if cuda:
        import torch

        return torch.cuda.max_memory_allocated() / models.GiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / models.GiB


def last_checkpoint(output_dir: Path) -> Path | None:
    folder = output_dir / CHECKPOINTS_FOLDER
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) \
        if folder.exists() else []
    complete = [p for p in found if (p / "trainer_state.json").exists()]
    return complete[-1] if complete else None


# -- the stage -------------------------------------------------------------------------
def prepare(base: Path, settings: TrainSettings) -> tuple[HardwarePlan, models.ArchShape, float | None]:
    """Plan for this machine (enforcing a GPU memory cap when one is set)."""
    import torch

    shape = models.ArchShape.from_config(json.loads((base / "config.json").read_text()))
    cuda = cuda_available()
    gpu, bf16 = None, True
    if cuda:
        total = torch.cuda.get_device_properties(0).total_memory / models.GiB
        gpu = min(total, settings.gpu_memory_gib) if settings.gpu_memory_gib > 0 else total
        # The cap is enforced, not only planned for: beyond it torch raises out-of-memory.
        torch.cuda.set_per_process_memory_fraction(min(1.0, gpu / total))
        bf16 = torch.cuda.is_bf16_supported()
    plan = hardware_plan(settings, shape, cuda=cuda, gpu_gib=gpu, bf16=bf16,
                         flash=flash_attention_installed())
    if plan.device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    return plan, shape, gpu


def trainer_class():
    """TRL's SFTTrainer, with length-grouped batches drawn from seed + epoch: the stock
    sampler draws from the global RNG, which a resumed run restores mid-epoch, so it
    would see other batches than an uninterrupted run of the same seed."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from trl import SFTTrainer

    class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
        def __init__(self, batch_size: int, lengths: list[int], seed: int):
            super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
            self.seed = seed
            self.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:  # the Trainer calls this every epoch
            self.generator.manual_seed(self.seed + epoch)

    class Trainer(SFTTrainer):
        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if type(sampler) is LengthGroupedSampler:
                seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
                return EpochSeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed)
            return sampler

    return Trainer


def build_trainer(base: Path, train_pairs: list[list[dict]], validation_pairs: list[list[dict]],
                  output_dir: Path, settings: TrainSettings, plan: HardwarePlan,
                  parent_adapter: Path | None = None, callbacks: list | None = None):
    """The SFTTrainer for these pairs, model and plan (nothing trained yet)."""
    from datasets import Dataset
    from transformers import AutoTokenizer, set_seed
    from trl import SFTConfig

    if not train_pairs:
        raise TrainError("no training pairs: build a dataset with approved reports first")
    tokenizer = AutoTokenizer.from_pretrained(base)
    set_seed(settings.seed)  # LoRA's initial weights too, not only the data order
    model = load_model(base, plan, parent_adapter, settings)
    validation = Dataset.from_list(conversation_rows(validation_pairs)) if validation_pairs else None
    return trainer_class()(
        model=model, processing_class=tokenizer,
        args=SFTConfig(**sft_arguments(settings, plan, output_dir / CHECKPOINTS_FOLDER,
                                       validation is not None)),
        train_dataset=Dataset.from_list(conversation_rows(train_pairs)),
        eval_dataset=validation, callbacks=callbacks or [])


def preview_batch(base: Path, pairs: list[list[dict]], settings: TrainSettings,
                  output_dir: Path) -> list[dict]:
    """The first training batch as the model will see it: per row the full text and
    the part that carries loss (everything else is masked with -100)."""
    plan, _, _ = prepare(base, settings)
    trainer = build_trainer(base, pairs, [], output_dir, settings, plan)
    batch = next(iter(trainer.get_train_dataloader()))
    tokenizer = trainer.processing_class
    rows = []
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist()):
        rows.append({"input_ids": ids, "labels": labels, "text": tokenizer.decode(ids),
                     "trained_text": tokenizer.decode([t for t, l in zip(ids, labels) if l != -100])})
    return rows


def train(base: Path, train_pairs: list[list[dict]], validation_pairs: list[list[dict]],
          output_dir: Path, settings: TrainSettings, *, resume: bool = False,
          parent_adapter: Path | None = None, sink: MetricsSink | None = None,
          stop: threading.Event | None = None) -> TrainResult:
    """Fine-tune ``base`` on the pairs; the adapter lands in ``output_dir/adapter``.

    ``resume`` continues from the last complete checkpoint in ``output_dir`` (optimizer,
    scheduler, RNG and data position included). ``stop`` ends the run at the next step
    with a checkpoint saved; the result then says ``stopped``."""
    import torch
    from transformers import EarlyStoppingCallback

    stop = stop or threading.Event()
    plan, shape, gpu = prepare(base, settings)
    checkpoint = last_checkpoint(output_dir) if resume else None
    if resume and checkpoint is None:
        raise TrainError(f"nothing to resume in {output_dir.name}: no complete checkpoint")
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics_file = output_dir / METRICS_FILE
    if not resume:
        metrics_file.unlink(missing_ok=True)
    callbacks = [_progress_callback(sink, metrics_file, stop, plan.device == "cuda")]
    if settings.early_stopping and validation_pairs:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=settings.early_stopping))
    trainer = build_trainer(base, train_pairs, validation_pairs, output_dir, settings, plan,
                            parent_adapter, callbacks)
    if plan.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except torch.OutOfMemoryError as error:
        raise TrainError("out of GPU memory: " + (not_fitting_advice(shape, gpu, plan.max_length)
                                                  if gpu else str(error))) from error
    seconds = time.monotonic() - started
    state = trainer.state
    adapter = output_dir / ADAPTER_FOLDER
    trainer.save_model(str(adapter))  # the best checkpoint's weights when validation ran
    trainer.processing_class.save_pretrained(adapter)
    history = state.log_history
    tokens = state.num_input_tokens_seen - trainer._initial_num_input_tokens_seen
    return TrainResult(
        adapter=str(adapter), steps=state.global_step, max_steps=state.max_steps,
        losses=[round(h["loss"], 5) for h in history if "loss" in h],
        eval_losses=[round(h["eval_loss"], 5) for h in history if "eval_loss" in h],
        tokens=int(tokens), seconds=round(seconds, 2),
        tokens_per_second=round(tokens / seconds, 1) if seconds > 0 else 0.0,
        peak_memory_gib=round(peak_memory_gib(plan.device == "cuda"), 3),
        device=plan.device, stopped=stop.is_set() and state.global_step < state.max_steps,
        best_checkpoint=state.best_model_checkpoint, plan=asdict(plan))
