"""Tiny random models of the real architectures, for tests and benchmarks: the same code
paths as an 8B model (attention with grouped KV heads, gated MLP, the real tokenizer and
chat template), small enough to train a step in well under a second on a CPU."""

from __future__ import annotations

from pathlib import Path

TINY_SIZES = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2}
# With the usual 0.02, a model this narrow gives nearly uniform next-token odds that LoRA
# alone cannot sharpen (the norms and embeddings stay frozen); 0.2 lets it learn.
TINY_INIT = 0.2


def tiny_model(folder: Path, tokenizer_dir: Path, architecture: str = "llama",
               seed: int = 0, **overrides) -> Path:
    """Save a randomly initialised ``architecture`` model with the tokenizer (and chat
    template) from ``tokenizer_dir`` into ``folder``; returns the folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = AutoConfig.for_model(
        architecture, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True, max_position_embeddings=2048,
        **({"initializer_range": TINY_INIT} | TINY_SIZES | overrides))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    generation = Path(tokenizer_dir) / "generation_config.json"
    if generation.exists():
        (folder / "generation_config.json").write_text(generation.read_text())
    return folder
