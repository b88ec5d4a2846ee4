"""Pairs + base model -> LoRA adapter: QLoRA on CUDA, plain LoRA on CPU, one code path.

TRL's SFTTrainer does the work. Pairs go in as prompt/completion conversations, so the
base model's own chat template renders them and only the assistant's answer carries loss.
On CUDA short medical pairs are packed without padding (best-fit decreasing; position
ids restart at each pair, so attention never crosses pairs); on a CPU batches group
pairs of similar length. Every choice that depends on the hardware is made in
stages/train/plan.py, so it can be checked without the hardware.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from medllm_local.core import models
from medllm_local.stages.train.loss import completion_only_loss
from medllm_local.stages.train.plan import (HardwarePlan, TrainError, TrainSettings, available_ram_gib,  # noqa: F401
                                     cuda_available, flash_attention_installed, hardware_plan,
                                     kernel_choice, not_fitting_advice, out_of_memory_advice)

ADAPTER_FOLDER = "adapter"
CHECKPOINTS_FOLDER = "checkpoints"
METRICS_FILE = "metrics.jsonl"


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
    world_size: int = 1  # processes that trained together (accelerate launch)


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
        if not fsdp_enabled():  # FSDP places the shards itself
            kwargs["device_map"] = {"": local_device()}
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

    dtype = getattr(torch, plan.compute_dtype)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype,
                              # FSDP shards only float tensors: store the packed 4-bit
                              # weights as 16-bit (same bytes), as FSDP-QLoRA does
                              **({"bnb_4bit_quant_storage": dtype} if fsdp_enabled() else {}))


def local_device() -> int:
    """This process's GPU under accelerate launch / torchrun (0 when alone)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def fsdp_enabled() -> bool:
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


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
            if stop_everywhere(stop.is_set(), args.world_size):
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero:  # one writer of the metrics
                return control
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
            if args.world_size > 1:  # only rank 0 logs: the stop vote waits for on_step_end
                return control
            return self.on_step_end(args, state, control)  # a stop asked meanwhile: save now

    return Progress()


def stop_everywhere(asked: bool, world_size: int) -> bool:
    """Under several processes a stop asked of one (its own Ctrl-C or SIGTERM) stops all
    at the same step: one that left alone would leave the others waiting in the next
    gradient all-reduce."""
    if world_size <= 1:
        return asked
    import torch
    import torch.distributed as dist

    flag = torch.tensor([1.0 if asked else 0.0],
                        device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


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
def pair_lengths(base: Path, pairs: list[list[dict]]) -> tuple[int | None, int | None]:
    """(95th percentile, longest) of the pairs in the base model's tokens, as trained."""
    from transformers import AutoTokenizer

    if not pairs:
        return None, None
    tokenizer = AutoTokenizer.from_pretrained(base)
    lengths = sorted(len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
                     for messages in pairs)
    return lengths[int(0.95 * (len(lengths) - 1))], lengths[-1]


def prepare(base: Path, settings: TrainSettings, lengths: tuple[int | None, int | None] = (None, None)
            ) -> tuple[HardwarePlan, models.ArchShape, float | None]:
    """Plan for this machine (enforcing a GPU memory cap when one is set); ``lengths``:
    the pairs' (95th percentile, longest) token lengths, when known."""
    import torch

    shape = models.ArchShape.from_config(json.loads((base / "config.json").read_text()))
    cuda = cuda_available()
    gpu, bf16 = None, True
    if cuda:
        device = local_device()
        torch.cuda.set_device(device)
        total = torch.cuda.get_device_properties(device).total_memory / models.GiB
        gpu = min(total, settings.gpu_memory_gib) if settings.gpu_memory_gib > 0 else total
        # The cap is enforced, not only planned for: beyond it torch raises out-of-memory.
        torch.cuda.set_per_process_memory_fraction(min(1.0, gpu / total), device)
        bf16 = torch.cuda.is_bf16_supported()
    fsdp = cuda and fsdp_enabled()  # accelerate launch with an FSDP config sets these
    plan = hardware_plan(settings, shape, cuda=cuda, gpu_gib=gpu, bf16=bf16,
                         flash=flash_attention_installed(),
                         shards=int(os.environ.get("WORLD_SIZE", "1")) if fsdp else 1,
                         offload=fsdp and os.environ.get("FSDP_OFFLOAD_PARAMS", "").lower() == "true",
                         data_p95=lengths[0], data_max=lengths[1],
                         ram_gib=None if cuda else available_ram_gib())
    if plan.device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    return plan, shape, gpu


def trainer_class(chunked_loss: bool = True):
    """TRL's SFTTrainer, with two changes.

    Length-grouped batches are drawn from seed + epoch: the stock sampler draws from the
    global RNG, which a resumed run restores mid-epoch, so it would see other batches
    than an uninterrupted run of the same seed. Without ``chunked_loss`` the loss is the
    cross-entropy over the answer tokens only (``completion_only_loss``): TRL's
    vocabulary-chunked loss saves GPU memory (no full logits) but also computes entropy
    and accuracy over the vocabulary at every step, which made CPU training 4x slower in
    bench/train.py; the loss values are identical."""
    import torch
    from transformers import Trainer as PlainTrainer
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

        def create_scheduler(self, num_training_steps, optimizer=None):
            # A warm-up ratio rounds down here (the stock one rounds up): a warm-up step
            # trains at a learning rate of 0 first, so a 2-step run lost half its steps.
            if 0 < self.args.warmup_steps < 1:
                self.args.warmup_steps = int(num_training_steps * self.args.warmup_steps)
            return super().create_scheduler(num_training_steps, optimizer)

        if not chunked_loss:
            def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
                # several processes (DDP) need the wrapped model's own forward
                if return_outputs or self.args.world_size > 1 or "labels" not in inputs:
                    return PlainTrainer.compute_loss(self, model, inputs, return_outputs,
                                                     num_items_in_batch)
                return completion_only_loss(model, inputs, num_items_in_batch)

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
    return trainer_class(plan.chunked_loss)(
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
    plan, shape, gpu = prepare(base, settings, pair_lengths(base, train_pairs))
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
    started = time.monotonic()
    try:  # loading can run out of memory too, not only the first steps
        trainer = build_trainer(base, train_pairs, validation_pairs, output_dir, settings, plan,
                                parent_adapter, callbacks)
        if plan.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started = time.monotonic()
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except torch.OutOfMemoryError as error:
        raise TrainError(out_of_memory_advice(shape, plan) if gpu else str(error)) from error
    seconds = time.monotonic() - started
    state = trainer.state
    adapter = output_dir / ADAPTER_FOLDER
    trainer.save_model(str(adapter))  # the best checkpoint's weights when validation ran
    if trainer.is_world_process_zero():
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
        best_checkpoint=state.best_model_checkpoint, plan=asdict(plan),
        world_size=trainer.args.world_size)
