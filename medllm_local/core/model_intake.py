"""Adding a base model: a Hugging Face folder copied from a USB stick, or a GGUF file,
checked and then copied into the models folder, so a physician never has to know where
models/ is or what a good copy looks like.

The check reads only headers and small files (config, tokenizer, chat template, the
safetensors headers, the GGUF header): seconds, even for an 8B model. It says what is
wrong in words ("no chat template: this is a base model, not an Instruct one") and
whether the model fits this machine for QLoRA training and for chat.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.core import models

# A model's name becomes its folder or file name under models/.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
LICENCE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "license.txt",
                 "USE_POLICY.md", "NOTICE")
# A Q4_K_M GGUF of an HF model takes about this many bytes per parameter (measured on the
# embedded model's family; an estimate for the chat fit only).
Q4_BYTES_PER_PARAMETER = 0.6


@dataclass
class ModelCheck:
    """What a model folder or file is, what is wrong with it, and what it fits."""

    path: str
    name: str
    kind: str  # "hf" or "gguf"
    architecture: str = ""
    parameters: int | None = None
    size_bytes: int = 0
    problems: list[str] = field(default_factory=list)  # any of these: not added
    notes: list[str] = field(default_factory=list)  # worth knowing, not blocking

    @property
    def ok(self) -> bool:
        return not self.problems


def _size(files) -> int:
    return sum(f.stat().st_size for f in files if f.is_file())


def _check_weights(folder: Path, check: ModelCheck) -> None:
    shards = sorted(folder.glob("*.safetensors"))
    index = folder / "model.safetensors.index.json"
    if index.exists():
        try:
            wanted = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError) as error:
            check.problems.append(f"{index.name} is unreadable ({type(error).__name__})")
            wanted = set()
        missing = sorted(wanted - {s.name for s in shards})
        if missing:
            check.problems.append(f"weight files missing (an incomplete copy?): {', '.join(missing[:4])}"
                                  + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
    if not shards:
        if list(folder.glob("*.bin")) or list(folder.glob("*.pt")):
            check.problems.append("only PyTorch .bin weights: they can run code when loaded; "
                                  "copy the model's .safetensors files instead")
        else:
            check.problems.append("no weights (*.safetensors) in the folder")
        return
    from safetensors import safe_open

    for shard in shards:  # the header only: a truncated copy fails here
        try:
            with safe_open(str(shard), framework="numpy") as handle:
                handle.keys()
        except Exception as error:  # safetensors raises its own SafetensorError
            check.problems.append(f"{shard.name} is unreadable (a truncated copy?): {type(error).__name__}")
    check.size_bytes = _size(shards)


def _check_tokenizer(folder: Path, check: ModelCheck) -> None:
    if not any((folder / name).exists() for name in ("tokenizer.json", "tokenizer.model")):
        check.problems.append("no tokenizer (tokenizer.json or tokenizer.model)")
        return
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as error:  # transformers raises many kinds for a bad tokenizer
        check.problems.append(f"the tokenizer does not load: {type(error).__name__}")
        return
    if not getattr(tokenizer, "chat_template", None):
        check.problems.append("no chat template: this looks like a base model; the app needs an "
                              "Instruct (chat) model")


def _fit_notes(check: ModelCheck, shape: models.ArchShape | None) -> None:
    gpu = models.gpu_memory_gib()
    if shape is not None:
        need = models.estimate_qlora_gib(shape, seq_len=2048, batch=1)["total"]
        if gpu:
            verdict = "fits" if need <= gpu[1] else "does not fit"
            check.notes.append(f"QLoRA training at 2,048 tokens needs about {need:.1f} GiB: {verdict} "
                               f"this GPU ({gpu[0]}, {gpu[1]:.0f} GiB)")
        else:
            check.notes.append(f"QLoRA training at 2,048 tokens needs about {need:.1f} GiB of GPU memory; "
                               "no GPU here, so training would be plain LoRA on the CPU (slow for "
                               "anything but small models)")
    chat_bytes = (check.size_bytes if check.kind == "gguf" else
                  (check.parameters or 0) * Q4_BYTES_PER_PARAMETER)
    if chat_bytes and gpu:
        fits = chat_bytes / models.GiB < 0.9 * gpu[1]
        check.notes.append(f"chat ({'this GGUF' if check.kind == 'gguf' else 'as Q4_K_M'}, about "
                           f"{chat_bytes / models.GiB:.1f} GiB) {'fits' if fits else 'does not fit'} "
                           "on the GPU" + ("" if fits else "; llama.cpp runs the rest on the CPU"))


def check_model(path: str | Path) -> ModelCheck:
    """Check a Hugging Face model folder or a GGUF file without loading its weights."""
    path = Path(path).expanduser()
    if not path.exists():
        raise models.ModelError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise models.ModelError(f"{path.name}: give a model folder (with config.json) or a .gguf file")
        check = ModelCheck(str(path), path.stem, "gguf", size_bytes=path.stat().st_size)
        try:
            check.architecture, check.parameters = models.gguf_summary(path)
            from gguf import GGUFReader

            if "tokenizer.chat_template" not in GGUFReader(str(path)).fields:
                check.problems.append("no chat template in the GGUF: the app needs an Instruct (chat) model")
        except Exception as error:  # gguf raises ValueError, struct.error, IndexError...
            check.problems.append(f"not a readable GGUF (a truncated copy?): {type(error).__name__}")
        _fit_notes(check, None)
        return check
    check = ModelCheck(str(path), path.name, "hf")
    shape = None
    try:
        config = json.loads((path / "config.json").read_text())
        check.architecture = (config.get("architectures") or [config.get("model_type", "")])[0]
        shape = models.ArchShape.from_config(config)
        check.parameters = shape.parameters
    except FileNotFoundError:
        check.problems.append("no config.json: not a Hugging Face model folder")
    except (ValueError, KeyError) as error:
        check.problems.append(f"config.json is unreadable or of an unknown shape ({type(error).__name__})")
    _check_weights(path, check)
    _check_tokenizer(path, check)
    licence = next((name for name in LICENCE_FILES if (path / name).exists()), None)
    check.notes.append(f"licence: {licence}" if licence else
                       "no licence file: check the model's terms before using it")
    _fit_notes(check, shape)
    return check


def add_model(path: str | Path, name: str | None = None) -> dict:
    """Check a model and, if it passes, copy it into the models folder under ``name``
    (default: its folder or file name). The copy goes to a hidden folder first and is
    renamed into place, so an interrupted copy is never listed as a model."""
    check = check_model(path)
    name = name or check.name
    if not MODEL_NAME.fullmatch(name):
        raise models.ModelError(f"model name {name!r}: use letters, digits, '-', '_' or '.'")
    if not check.ok:
        raise models.ModelError(f"{check.name} was not added: " + "; ".join(check.problems))
    if any(m.name.lower() == name.lower() for m in models.list_models()):
        raise models.ModelError(f"a model named {name!r} is already installed: give another name")
    root = models.models_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / (f"{name}.gguf" if check.kind == "gguf" else name)
    staging = root / f".adding-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if check.kind == "gguf":
            staging.mkdir()
            shutil.copy2(check.path, staging / target.name)
            (staging / target.name).rename(target)
        else:
            shutil.copytree(check.path, staging)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"model": name, "path": str(target), "kind": check.kind, "architecture": check.architecture,
            "parameters": check.parameters, "size_bytes": check.size_bytes, "notes": check.notes}
