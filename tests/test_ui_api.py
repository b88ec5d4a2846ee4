"""The app's API through gradio_client, as a script or another tool would drive it: one
app started for the module (as users start it), then the stages in pipeline order,
each call checked against what it really did in the workspace. The endpoint names are
part of the contract: the tab modules give every event an api_name."""

from __future__ import annotations

import io
import stat

import pytest

from conftest import AppProcess, read_guard_log

# Every stage endpoint; renaming one breaks scripts, so it breaks this list first.
STAGE_ENDPOINTS = {
    "/ingest_uploads", "/ingest_demo", "/ingest_stop",
    "/deid_run", "/review_show", "/review_apply", "/review_approve", "/review_approve_all",
    "/clean_run", "/clean_show", "/clean_revert", "/clean_restore", "/transcribe_load",
    "/transcribe_save", "/dataset_build", "/dataset_save_pair", "/dataset_import_preview",
    "/dataset_import",
    "/train_check_fit", "/train_start", "/train_resume", "/train_retrain", "/train_stop",
    "/train_poll", "/eval_start", "/eval_poll", "/eval_mark", "/eval_refresh_models", "/eval_save_set",
    "/export_start", "/export_poll", "/export_refresh_runs",
    "/chat", "/chat_case", "/chat_differential", "/chat_refresh_models",
    "/feedback_up", "/feedback_down", "/feedback_correction", "/feedback_deidentify",
    "/feedback_approve", "/feedback_reject",
    "/export_conversation_text", "/export_conversation_pdf",
    "/settings_save_lists", "/settings_refresh", "/settings_check_model", "/settings_add_model",
}
QUESTION = ("A 25-year-old has a fever, sore throat and swollen tonsils with exudate. "
            "What is the most likely diagnosis?")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    started = AppProcess(tmp_path_factory.mktemp("ui-api")).wait()
    yield started
    started.stop()
    assert read_guard_log(started.guard_log) == []  # nothing tried to leave 127.0.0.1


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)


@pytest.fixture(scope="module")
def workspace(app):
    from medllm_local.workspace.store import Workspace

    return Workspace.open(app.workspace)


def rows(table: dict) -> list[list]:
    return table["data"]


def test_training_status_says_what_happens_before_the_first_step():
    from medllm_local.ui.train_tab import progress_text

    job = {"id": 3, "status": "running"}
    phase = {"step": 0, "total": None, "message": "run 2: loading the model and tokenizing the pairs",
             "metrics": {}}
    assert "loading the model" in progress_text({"job": job, "progress": [phase]})
    step = {"step": 1, "total": 4, "message": "training",
            "metrics": {"step": 1, "max_steps": 4, "loss": 2.5, "tokens_per_second": 900.0,
                        "memory_gib": 1.2, "eta_seconds": 90}}
    text = progress_text({"job": job, "progress": [phase, step]})
    assert "step 1/4" in text and "loading" not in text and "1.5 min left" in text


def test_loss_plot_gets_numbers_and_no_chart_before_the_first_step():
    """An all-None loss column is "object" in pandas, and the plot then keeps drawing
    losses as categories (unordered axis) once training reports them; and a chart drawn
    on an empty frame keeps a margin too narrow for its axis labels: none is drawn."""
    from medllm_local.ui.train_tab import loss_frame

    assert loss_frame([]) is None
    assert loss_frame([{"step": 1, "loss": 3.2}, {"step": 2, "eval_loss": 3.0}]).dtypes["loss"].kind == "f"


def test_every_stage_endpoint_is_exposed_under_its_stable_name(client):
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    missing = STAGE_ENDPOINTS - set(named)
    assert not missing, f"endpoints lost or renamed: {sorted(missing)}"


def test_no_component_offers_to_share_to_hugging_face(app):
    """Chatbot and Image show a "share" button by default, which posts to Hugging Face."""
    import json
    import urllib.request

    with urllib.request.urlopen(app.url + "/config", timeout=10) as response:
        config = json.load(response)
    sharing = [c.get("props", {}).get("elem_id") for c in config["components"]
               if "share" in (c.get("props", {}).get("buttons") or [])]
    assert sharing == []
    assert config["components"] and any(c.get("props", {}).get("elem_id") == "chat-history"
                                        for c in config["components"])


def test_upload_lists_the_document_and_removes_the_upload(client, app, tmp_path):
    from gradio_client import handle_file

    from ingest_fixtures import ONE_COLUMN, text_pdf

    report = tmp_path / "heart-failure-letter.pdf"
    report.write_bytes(text_pdf(ONE_COLUMN))
    table, summary, _ = client.predict([handle_file(str(report))], api_name="/ingest_uploads")
    assert summary.startswith("1 ingested, 0 failed")
    listed = {row[1]: row[3] for row in rows(table)}
    assert listed == {"heart-failure-letter.pdf": "ingested"}
    assert list((app.workspace / ".uploads").rglob("*.pdf")) == []  # deleted once ingested


def test_a_benchmark_file_is_saved_as_an_evaluation_set(client, app, workspace, tmp_path):
    import json

    from gradio_client import handle_file

    from medllm_local import pipeline

    cases = tmp_path / "teaching.jsonl"
    cases.write_text("".join(json.dumps({"instruction": q, "output": a}) + "\n"
                             for q, a in (("Fever and neck stiffness", "Meningitis"), ("Wheeze", "Asthma"))))
    status, chosen, _ = client.predict(handle_file(str(cases)), "teaching-2026", api_name="/eval_save_set")
    assert status.startswith("Saved set **teaching-2026**: 2 cases") and chosen["value"] == "teaching-2026"
    assert [s.set for s in pipeline.eval_sets(workspace)] == ["teaching-2026"]
    assert list((app.workspace / ".uploads").rglob("teaching.jsonl")) == []  # the upload is not kept


def test_a_model_is_checked_before_it_is_added(client):
    from medllm_local.core import models

    note = client.predict(str(models.embedded_gguf()), api_name="/settings_check_model")
    assert note.startswith("**SmolLM2-135M-Instruct.Q4_1**: gguf llama, 0.13B parameters") and "problem" not in note
    with pytest.raises(Exception, match="no such file or folder"):
        client.predict("/no/such/model", "", api_name="/settings_add_model")


def test_demo_reports_are_ingested(client, workspace):
    table, summary = client.predict(api_name="/ingest_demo")
    assert summary.startswith("6 ingested")
    assert len(rows(table)) == 7 == workspace.document_count()


def test_deidentify_review_and_approve(client, workspace):
    choices, status = client.predict(api_name="/deid_run")
    assert status == "De-identified 7 documents."
    pneumonia = next(value for label, value in choices["choices"] if "demo-pneumonia" in label)
    original, findings, deid_text, _ = client.predict(pneumonia, api_name="/review_show")
    assert "Alex Example" not in deid_text
    assert any("Alex Example" in row[1] for row in rows(findings))
    _, status = client.predict(api_name="/review_approve_all")
    assert status.startswith("approved 7 documents")
    assert {row["status"] for row in workspace.document_rows()} == {"approved"}


def test_clean_and_build_the_dataset(client, workspace):
    table, status, _queue, _documents, _pages = client.predict(api_name="/clean_run")
    assert status.startswith("Cleaned 7 documents")
    assert len(rows(table)) == 7 and any(row[-1] == "yes" for row in rows(table))
    pairs, summary = client.predict(api_name="/dataset_build")
    assert "Pairs:" in summary
    splits = {row[1] for row in rows(pairs)}
    assert {"train", "test"} <= splits
    built = workspace.query("SELECT COUNT(*) FROM pairs")[0][0]
    assert built == len(rows(pairs)) > 0


def test_train_fit_check_plans_this_machine(client):
    plan = client.predict(api_name="/train_check_fit")
    assert "Trains on" in plan


def test_chat_streams_an_answer(client):
    job = client.submit(QUESTION, api_name="/chat")
    updates = list(job)
    assert len(updates) > 2  # streamed, not one reply at the end
    history, cleared, similar, status = job.result()
    assert cleared == "" and "stopped:" in status
    assert [turn["role"] for turn in history] == ["user", "assistant"]
    answer = history[-1]["content"][0]["text"]
    assert len(answer) > 5 and "<|im" not in answer
    assert rows(similar)  # the approved demo archive has similar cases to show


def test_conversation_exports_as_pdf_and_text_into_the_workspace(client, app):
    from pdfminer.high_level import extract_text

    history, *_ = client.predict("What is the first-line treatment?", api_name="/chat")
    pdf_path, note = client.predict(history, None, api_name="/export_conversation_pdf")
    assert note.startswith("Saved in the workspace")
    text = " ".join(extract_text(io.BytesIO(open(pdf_path, "rb").read())).split())
    assert "What is the first-line treatment?" in text and "do not replace" in text
    txt_path, _ = client.predict(history, None, api_name="/export_conversation_text")
    assert "Physician:\nWhat is the first-line treatment?" in open(txt_path).read()
    saved = sorted((app.workspace / "exports" / "conversations").iterdir())
    assert [p.suffix for p in saved] == [".pdf", ".txt"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in saved)
    _, refused = client.predict([], None, api_name="/export_conversation_pdf")
    assert "empty" in refused


def test_a_bad_case_form_says_why_and_never_logs_the_conversation(client, app):
    """A form error goes to the status line; the conversation (which may name a patient)
    must not reach the server's log, as Gradio's warning about a wrong number of
    outputs would put it there."""
    marker = "Mrs Zebedee Quartermain asked about her cough"
    history = [{"role": "user", "content": [{"type": "text", "text": marker}]},
               {"role": "assistant", "content": [{"type": "text", "text": "Noted."}]}]
    shown, similar, status = client.predict(history, None, 3, 200, "female", "", "cough", "",
                                            api_name="/chat_case")
    assert status.startswith("Case form:") and "age" in status.lower()
    assert marker not in app.output.read_text()


def test_deid_options_saved_in_settings_apply_unless_given_explicitly(client, workspace):
    from medllm_local import pipeline
    from medllm_local.stages.deid import engine as deid

    note = client.predict(0.6, False, 0, "year", api_name="/settings_save_deid_options")
    assert note.startswith("Saved")
    used = pipeline.saved_deid_settings(workspace)
    assert (used.score_threshold, used.propagate_names, used.date_mode) == (0.6, False, "year")
    explicit = pipeline.saved_deid_settings(workspace, deid.DeidSettings(score_threshold=0.2))
    assert explicit.score_threshold == 0.2 and explicit.date_mode == "year"
    with pytest.raises(ValueError, match="score-threshold"):
        pipeline.save_deid_options(workspace, score_threshold=1.5)
    assert pipeline.saved_deid_settings(workspace).score_threshold == 0.6  # unchanged
    client.predict(0.35, True, 0, "shift", api_name="/settings_save_deid_options")  # as before


def test_the_documents_tab_says_when_scans_cannot_be_read(tmp_path, monkeypatch):
    import gradio as gr

    from medllm_local import pipeline
    from medllm_local.ui import ingest_tab

    for installed in (True, False):
        monkeypatch.setattr(ingest_tab, "ocr_available", lambda: installed)
        with gr.Blocks() as blocks:
            ingest_tab.build_ingest_tab(pipeline.open_workspace(tmp_path / f"ws-{installed}"))
        notes = [c.get("props", {}).get("value", "") for c in blocks.config["components"]
                 if c.get("props", {}).get("elem_id") == "ingest-no-ocr"]
        assert bool(notes) is not installed
        assert all("tesseract-ocr" in note for note in notes)
