"""The CLI contract: every stage is a subcommand with --workspace and --json; stages not
built yet say so and exit non-zero; --json prints exactly one object on stdout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli

CONTRACT = ["ingest", "deid", "clean", "build", "train", "eval", "export", "chat", "models",
            "demo"]
STAGE_ARGS = {"ingest": ["x.pdf"], "export": ["1"], "chat": ["--prompt", "hi"]}


def test_help_lists_every_contract_subcommand_without_the_venv(tmp_path):
    # A copy of the project with no .venv, run by the base Python: --help must answer
    # from the standard library alone and must not start an install.
    for name in ("launch.py", "medllm_local", "installer", "pyproject.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    out = subprocess.run([sys._base_executable, str(tmp_path / "launch.py"), "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / ".venv").exists()
    for command in CONTRACT:
        assert f"    {command} " in out.stdout
    assert "127.0.0.1:7860" in out.stdout


@pytest.mark.parametrize("command", CONTRACT)
def test_every_stage_takes_workspace_and_json(command):
    out = run_cli(command, "--help")
    assert out.returncode == 0
    assert "--workspace DIR" in out.stdout and "--json" in out.stdout


def test_options_before_the_command_are_kept(tmp_path):
    from medllm_local.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["--workspace", "/a", "ingest", "f"]).workspace == "/a"
    assert parser.parse_args(["ingest", "f", "--workspace", "/b"]).workspace == "/b"
    assert parser.parse_args(["--port", "8000", "ui"]).port == 8000
    assert parser.parse_args(["ui", "--port", "8001"]).port == 8001
    run_cli("--workspace", str(tmp_path / "ws"), "ingest", str(tmp_path / "none.txt"), "--json")
    assert (tmp_path / "ws" / "catalogue.sqlite").exists()  # not ~/medllm-workspace


def test_serving_beyond_loopback_needs_a_password():
    out = run_cli("--host", "0.0.0.0", "--port", "7999")
    assert out.returncode == 1
    assert "set a password" in out.stderr


def test_chat_prompt_from_stdin():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "launch.py"), "chat", "--prompt", "-",
                          "--max-tokens", "16", "--json"], input="What is asthma?",
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["answer"]


def test_models_json_lists_the_embedded_model_and_the_fit_table():
    out = run_cli("models", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)  # exactly one JSON object, nothing else on stdout
    embedded = [m for m in report["models"] if m["source"] == "embedded"]
    assert embedded and embedded[0]["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert 130e6 < embedded[0]["parameters"] < 140e6
    assert embedded[0]["architecture"] == "llama"
    assert {row["model"].split()[0] for row in report["qlora_fit"]} >= {"8B", "14B", "70B"}
    assert report["offline"]["mode"] == "on"


def test_chat_json_answers_with_the_contract_keys():
    out = run_cli("chat", "--prompt", "Name one symptom of anaemia.", "--max-tokens", "48",
                  "--temperature", "0", "--json")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # llama.cpp's own output went to stderr
    answer = json.loads(lines[0])
    assert {"answer", "tokens", "seconds", "stop_reason"} <= answer.keys()
    assert answer["answer"] and 0 < answer["tokens"] <= 48
    assert answer["stop_reason"] in ("stop", "length")


def test_chat_streams_text_on_stdout_without_json():
    out = run_cli("chat", "--prompt", "What does BP stand for?", "--max-tokens", "24")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert "tokens" in out.stderr and "stop:" in out.stderr


def test_bad_input_gives_one_line_naming_the_problem(tmp_path):
    missing = tmp_path / "nope.gguf"
    out = run_cli("chat", "--model", str(missing), "--prompt", "hi", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["error"] == f"chat: {missing}: no such file or folder"
    out = run_cli("chat", "--prompt", "hi", "--temperature", "5")
    assert out.returncode == 1 and "temperature must be between 0 and 2" in out.stderr
    out = run_cli("chat", "--prompt", "   ", "--json")
    assert out.returncode == 1 and "the question is empty" in out.stdout


def test_demo_runs_ingest_deid_and_build_on_the_demo_reports(tmp_path):
    out = run_cli("demo", "--workspace", str(tmp_path / "demo"), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert list(report) == ["ingest", "deid", "clean", "build"]
    # the demo banner and clinic line repeat in every report: cleaned away before building
    assert report["clean"]["totals"]["changes"]["boilerplate"] >= 6
    assert report["ingest"]["totals"]["ok"] == 6
    assert report["deid"]["approved"] == [1, 2, 3, 4, 5, 6]
    # the scanned migraine report comes as PNG and as PDF: its pairs are kept once
    assert report["build"]["pairs"] == {"diagnosis": 5, "differential": 5, "treatment": 5}
    assert report["build"]["card"]["duplicate_pairs_removed"] == 3
    unknown = run_cli("demo", "--workspace", str(tmp_path / "demo"), "--until", "deploy")
    assert unknown.returncode == 1 and "unknown stage 'deploy'" in unknown.stderr


def test_eval_history_on_a_workspace_with_no_evaluations(tmp_path):
    out = run_cli("eval", "--history", "--workspace", str(tmp_path / "ws"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"versions": [], "warnings": [], "eval_set": None}
