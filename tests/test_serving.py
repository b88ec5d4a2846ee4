"""Serving an export to several users: llama-cpp-python's OpenAI-compatible server (as
the README documents it) on a GGUF, answering two clients at once, loopback only."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from conftest import free_port, wait_for_http
from medllm_local.core import models
from medllm_local.core import prompts


def ask(url: str, question: str) -> dict:
    body = json.dumps({"messages": [{"role": "system", "content": prompts.SYSTEM_PROMPT},
                                    {"role": "user", "content": question}],
                       "max_tokens": 24, "temperature": 0.0}).encode()
    request = urllib.request.Request(f"{url}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def test_llama_cpp_server_answers_two_clients_on_the_embedded_model(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(models.embedded_gguf()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024",
         "--n_gpu_layers", "-1"],  # every layer on the GPU where there is one
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"{url}/v1/models", timeout=120)
        questions = ["What is the capital of France?", "Name one symptom of asthma."]
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda q: ask(url, q), questions))
        for reply in replies:
            assert reply["choices"][0]["message"]["content"].strip()
            assert reply["usage"]["completion_tokens"] > 0
    finally:
        server.terminate()
        server.wait(timeout=30)
