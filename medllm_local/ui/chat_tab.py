"""The Chat tab: free chat beside a case form; a case answered freely (streamed) or as a
ranked differential table; similar past cases from the approved archive beside the answer.

Widgets and event bindings only: answers come from pipeline.chat_stream and
pipeline.chat_differential, past cases from pipeline.similar_cases, the exported
conversation from pipeline.export_conversation. The conversation is kept in the Chatbot
itself (no gr.State: it kept the page from settling in the browser).
Model output is Markdown with HTML sanitised (the Chatbot's sanitize_html; the tables
show plain text cells).
"""

from __future__ import annotations

from pathlib import Path

from medllm_local import pipeline
from medllm_local.core import models
from medllm_local.core.prompts import CaseForm, case_form_prompt
from medllm_local.pipeline import feedback
from medllm_local.stages.chat.answer import ChatSettings, DifferentialSettings
from medllm_local.ui.forms import settings_form
from medllm_local.workspace.store import Workspace

DIFFERENTIAL_COLUMNS = ["rank", "diagnosis", "likelihood", "supporting findings", "opposing findings"]
FEEDBACK_COLUMNS = ["id", "status", "rating", "question (de-identified)", "answer to learn (de-identified)"]
SIMILAR_COLUMNS = ["doc", "score", "recorded diagnosis", "case (de-identified)"]


def text_of(content) -> str:
    """Chatbot message content as plain text (Gradio may hand back typed parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "".join(text_of(part) for part in content)
    return "" if content is None else str(content)


def case_form(age, sex, history, symptoms, findings) -> CaseForm:
    return CaseForm(age=None if age in (None, "") else int(age), sex=sex or "",
                    history=history or "", symptoms=symptoms or "", findings=findings or "")


def differential_rows(items) -> list[list]:
    return [[rank, item.diagnosis, item.likelihood, "; ".join(item.supporting_findings),
             "; ".join(item.opposing_findings)] for rank, item in enumerate(items, 1)]


def similar_rows(workspace: Workspace, case, top_n) -> list[list]:
    """The similar-cases table; empty when not asked for or when nothing matches."""
    if not top_n or int(top_n) < 1:
        return []
    return [[c["document_id"], c["score"], c["diagnosis"] or "(none recorded)", c["case"]]
            for c in pipeline.similar_cases(workspace, case, int(top_n))]


def last_turn(history) -> tuple[str, str]:
    """The last question and its answer in the conversation ("" when there is none)."""
    turns = [(turn["role"], text_of(turn["content"])) for turn in history or []]
    for index in range(len(turns) - 1, 0, -1):
        if turns[index][0] == "assistant" and turns[index - 1][0] == "user":
            return turns[index - 1][1], turns[index][1]
    return "", ""


def feedback_rows(workspace: Workspace) -> list[list]:
    """Feedback waiting for, or past, review: de-identified text only (the text as typed
    stays in the owner-only raw/ folder)."""
    return [[row["id"], row["status"], row["rating"] or "", row["deid_question"] or "(not de-identified yet)",
             row["deid_target"] or ""] for row in feedback.list_feedback(workspace)
            if row["has_correction"] or row["rating"] == "up"]


def build_feedback(workspace: Workspace, chatbot, model):
    """Thumbs and corrections on the last answer, and their review before training."""
    import gradio as gr

    def give(history, model_path, rating, correction):
        question, answer = last_turn(history)
        try:
            saved = feedback.record_feedback(workspace, question, answer, model_path or "embedded",
                                             rating, correction or "")
        except ValueError as error:
            return f"Feedback: {error}", gr.skip(), gr.skip()
        note = ("Saved. It is offered for training once de-identified and approved below."
                if saved["trainable"] else "Saved.")
        return note, "", feedback_rows(workspace)

    def deidentify():
        done = feedback.deidentify_feedback(workspace)["deidentified"]
        return f"De-identified {len(done)} feedback answers: read them, then approve.", feedback_rows(workspace)

    def decide(feedback_id, approve):
        if not feedback_id:
            return "Give the id of the feedback to approve or reject.", gr.skip()
        try:
            result = feedback.review_feedback(workspace, int(feedback_id), approve)
        except (ValueError, pipeline.GateError) as error:
            return f"Feedback: {error}", gr.skip()
        return f"Feedback {result['id']}: {result['status']}.", feedback_rows(workspace)

    with gr.Row():
        up = gr.Button("Good answer", size="sm", elem_id="feedback-up")
        down = gr.Button("Wrong answer", size="sm", elem_id="feedback-down")
        correction = gr.Textbox(placeholder="The correct answer was ...", show_label=False, scale=4,
                                elem_id="feedback-correction")
        save = gr.Button("Save correction", size="sm", elem_id="feedback-save")
    note = gr.Markdown("", elem_id="feedback-status")
    with gr.Accordion("Feedback to review before it can train", open=False, elem_id="feedback-review"):
        gr.Markdown("Questions typed in chat may name patients. Feedback becomes a training pair "
                    "only after de-identification and your approval of the de-identified text.")
        table = gr.Dataframe(value=feedback_rows(workspace), headers=FEEDBACK_COLUMNS,
                             interactive=False, wrap=True, elem_id="feedback-table")
        with gr.Row():
            run_deid = gr.Button("De-identify new feedback", elem_id="feedback-deid")
            chosen = gr.Number(label="Feedback id (or click its row)", precision=0, elem_id="feedback-id")
            approve = gr.Button("Approve", elem_id="feedback-approve")
            reject = gr.Button("Reject", elem_id="feedback-reject")
    up.click(lambda h, m: give(h, m, "up", ""), [chatbot, model], [note, correction, table],
             api_name="feedback_up")
    down.click(lambda h, m, c: give(h, m, "down", c), [chatbot, model, correction],
               [note, correction, table], api_name="feedback_down")
    save.click(lambda h, m, c: give(h, m, None, c), [chatbot, model, correction],
               [note, correction, table], api_name="feedback_correction")
    run_deid.click(deidentify, None, [note, table], api_name="feedback_deidentify")
    approve.click(lambda i: decide(i, True), [chosen], [note, table], api_name="feedback_approve")
    reject.click(lambda i: decide(i, False), [chosen], [note, table], api_name="feedback_reject")

    def select_feedback(event):  # a click on a row chooses it: no id to type
        row = event.row_value or []
        return int(row[0]) if row and str(row[0]).isdigit() else gr.update()

    # Gradio finds the event argument by its annotation, which `from __future__ import
    # annotations` turns into a string it cannot resolve here (gr is a local import).
    select_feedback.__annotations__["event"] = gr.SelectData
    table.select(select_feedback, None, chosen)
    return table


def build_conversation_export(workspace: Workspace, chatbot, model) -> None:
    """Export the conversation as text or PDF: written into the workspace, then offered
    for download."""
    import gradio as gr

    def export(history, model_path, fmt):
        messages = [{"role": turn["role"], "content": text_of(turn["content"])}
                    for turn in history or []]
        try:
            path = pipeline.export_conversation(workspace, messages, model_path or "", fmt)
        except ValueError as error:
            return gr.skip(), f"Export: {error}"
        return str(path), f"Saved in the workspace as `{path.name}`."

    with gr.Row():
        as_text = gr.Button("Export conversation as text", size="sm", elem_id="chat-export-txt")
        as_pdf = gr.Button("Export conversation as PDF", size="sm", elem_id="chat-export-pdf")
    exported = gr.File(label="Exported conversation", interactive=False, elem_id="chat-export-file")
    note = gr.Markdown("", elem_id="chat-export-status")
    as_text.click(lambda h, m: export(h, m, "txt"), [chatbot, model], [exported, note],
                  api_name="export_conversation_text")
    as_pdf.click(lambda h, m: export(h, m, "pdf"), [chatbot, model], [exported, note],
                 api_name="export_conversation_pdf")


def gguf_choices(workspace: Workspace | None = None) -> list[tuple[str, str]]:
    """The GGUFs to chat with: the embedded one, models/ and the exports whose checks
    passed; then this workspace's exports whose checks failed, labelled so."""
    choices = [(f"{m.name} ({models.DEMO_NOTE if m.source == 'embedded' else m.source})", m.path)
               for m in models.list_models() if m.kind == "gguf" and m.path]
    if workspace is not None:
        choices += [(f"run {e.run} {e.quant} (a check failed)", e.gguf)
                    for e in pipeline.list_exports(workspace)
                    if e.status != "passed" and e.quant != "LoRA" and Path(e.gguf).is_file()]
    return choices


def build_chat_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    def answer(message, history, model_path, top_n, setting_values, case=None):
        """Stream one answer into the conversation, then the similar past cases."""
        try:
            settings = chat_form.settings(*setting_values)
        except ValueError as error:
            yield history, message, gr.skip(), f"Generation settings: {error}"
            return
        prior = [{"role": turn["role"], "content": text_of(turn["content"])}
                 for turn in history or []]
        shown = prior + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        try:
            for chunk in pipeline.chat_stream(message, prior, model_path or None, settings):
                shown[-1]["content"] = chunk.text
                if not chunk.done:
                    yield shown, "", gr.skip(), ""
                    continue
                a = chunk.answer
                status = (f"{a.tokens} tokens in {a.seconds:.1f} s "
                          f"({a.tokens / max(a.seconds, 1e-6):.0f} tokens/s), stopped: {a.stop_reason}")
                yield shown, "", similar_rows(workspace, case or message, top_n), status
        except Exception as error:  # shown to the user; the app keeps running
            yield prior, message, gr.skip(), f"Error: {error}"

    def respond(message, history, model_path, top_n, *setting_values):
        if not message or not message.strip():
            yield history, "", gr.skip(), "Type a question first."
            return
        yield from answer(message, history, model_path, top_n, setting_values)

    def ask_case(history, model_path, top_n, age, sex, past, symptoms, findings, *setting_values):
        try:
            form = case_form(age, sex, past, symptoms, findings)
        except ValueError as error:  # three outputs: chatbot, similar cases, status
            yield history, gr.skip(), f"Case form: {error}"
            return
        # a case is a new conversation: the free chat before it is not its context
        for shown, _, similar, status in answer(case_form_prompt(form), [], model_path, top_n,
                                                setting_values, case=form):
            yield shown, similar, status

    def differential(model_path, top_n, age, sex, past, symptoms, findings, *values):
        try:
            form = case_form(age, sex, past, symptoms, findings)
            settings = chat_form.settings(*values[:len(chat_form.inputs)])
            bounds = bounds_form.settings(*values[len(chat_form.inputs):])
            result = pipeline.chat_differential(form, model_path or None, settings, bounds)
        except Exception as error:  # a bad form, a missing model: said, not raised
            return gr.skip(), gr.skip(), f"Differential: {error}"
        a = result.answer
        return (differential_rows(result.items), similar_rows(workspace, form, top_n),
                (f"**{result.problem[0].upper() + result.problem[1:]}.** " if result.problem else "")
                + f"Ranked differential: {len(result.items)} diagnoses, {a.tokens} tokens in "
                f"{a.seconds:.1f} s (checked against its JSON schema)")

    choices = gguf_choices(workspace)
    with gr.Row():
        model = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None,
                            label="Model", elem_id="chat-model", scale=4)
        refresh = gr.Button("Refresh models", size="sm", scale=1, elem_id="chat-refresh")
    # An export finished while the app runs is listed without a restart.
    refresh.click(lambda: gr.update(choices=gguf_choices(workspace)), None, model,
                  api_name="chat_refresh_models")
    with gr.Row():
        with gr.Column(scale=3):
            # No "share" button: it posts the conversation to Hugging Face.
            chatbot = gr.Chatbot(label="Conversation", height=420, elem_id="chat-history",
                                 sanitize_html=True, render_markdown=True,
                                 buttons=["copy", "copy_all"])
            with gr.Row():
                question = gr.Textbox(placeholder="Describe the case or ask a question",
                                      show_label=False, scale=5, elem_id="chat-input")
                send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
                stop = gr.Button("Stop", scale=1, elem_id="chat-stop")
            status = gr.Markdown("", elem_id="chat-status")
            feedback_table = build_feedback(workspace, chatbot, model)
            build_conversation_export(workspace, chatbot, model)
        with gr.Column(scale=2):
            with gr.Accordion("Case form", open=False, elem_id="case-form"):
                with gr.Row():
                    age = gr.Number(label="Age (years)", precision=0, elem_id="case-age")
                    sex = gr.Textbox(label="Sex", elem_id="case-sex")
                past = gr.Textbox(label="History (past conditions, medication)", lines=2,
                                  elem_id="case-history")
                symptoms = gr.Textbox(label="Symptoms", lines=2, elem_id="case-symptoms")
                findings = gr.Textbox(label="Findings (examination, results)", lines=2,
                                      elem_id="case-findings")
                with gr.Row():
                    ask = gr.Button("Most likely diagnosis", elem_id="case-ask")
                    rank = gr.Button("Ranked differential", variant="primary",
                                     elem_id="case-differential")
            top_n = gr.Number(value=3, precision=0, minimum=0, maximum=20,
                              label="Similar past cases to show (0: none)", elem_id="similar-n")
            similar = gr.Dataframe(headers=SIMILAR_COLUMNS, interactive=False, wrap=True,
                                   label="Similar past cases (approved, de-identified)",
                                   elem_id="chat-similar")
    differential_table = gr.Dataframe(headers=DIFFERENTIAL_COLUMNS, interactive=False, wrap=True,
                                      label="Ranked differential", elem_id="chat-differential")
    with gr.Accordion("Generation settings", open=False):
        chat_form = settings_form(ChatSettings, "chat-setting")
    with gr.Accordion("Differential bounds", open=False):
        bounds_form = settings_form(DifferentialSettings, "differential-setting")
    chat_settings, bounds = chat_form.components, bounds_form.components
    form = [age, sex, past, symptoms, findings]
    inputs = [question, chatbot, model, top_n, *chat_settings]
    outputs = [chatbot, question, similar, status]
    events = [send.click(respond, inputs, outputs, api_name="chat"),
              question.submit(respond, inputs, outputs, api_name="chat_submit"),
              ask.click(ask_case, [chatbot, model, top_n, *form, *chat_settings],
                        [chatbot, similar, status], api_name="chat_case"),
              rank.click(differential, [model, top_n, *form, *chat_settings, *bounds],
                         [differential_table, similar, status], api_name="chat_differential")]
    stop.click(None, None, None, cancels=events)

    def on_load():  # the choices only: the model chosen stays chosen
        return gr.update(choices=gguf_choices(workspace)), feedback_rows(workspace)

    return [(on_load, [model, feedback_table])]
