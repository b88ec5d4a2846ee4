"""The Gradio app: one tab per pipeline stage, in pipeline order, over pipeline.py.

This module only builds widgets and binds events. Every action calls the same pipeline
functions as the CLI; forms are built from the stages' settings dataclasses, so an option
added to a stage appears here with no edit. Served on 127.0.0.1 unless the user says
otherwise, with no outside assets (system fonts, no analytics).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

from medllm_local import models, offline, pipeline
from medllm_local.chat import ChatSettings
from medllm_local.workspace import Workspace

PENDING_TABS = {  # stage tab -> (issue, what it will do)
    "Review": (4, "de-identified text beside highlighted findings; accept, reject, add, approve"),
    "Dataset": (5, "build instruction pairs, browse and edit them, review augmentation"),
    "Train": (6, "QLoRA on the GPU or LoRA on the CPU, with a live loss plot, stop and resume"),
    "Evaluate": (8, "base against fine-tuned on held-out cases: top-1, MRR, ROUGE, BLEU"),
    "Export": (7, "merge, convert to GGUF, quantize, and check the result"),
}
DISCLAIMER = (
    "This assistant supports, and does not replace, clinical judgement. "
    "Everything runs on this computer; nothing leaves it."
)


def settings_widgets(settings_type: type) -> list:
    """One input per field of a settings dataclass (the same fields the CLI exposes)."""
    import gradio as gr

    hints = typing.get_type_hints(settings_type)
    widgets = []
    for item in dataclasses.fields(settings_type):
        label = f"{item.name.replace('_', ' ')}: {item.metadata.get('help', '')}"
        kind = hints[item.name]
        precision = 0 if kind is int else None
        widgets.append(gr.Number(value=item.default, label=label, precision=precision,
                                 elem_id=f"chat-setting-{item.name}"))
    return widgets


def text_of(content) -> str:
    """Chatbot message content as plain text (Gradio may hand back typed parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "".join(text_of(part) for part in content)
    return "" if content is None else str(content)


def gguf_choices() -> list[tuple[str, str]]:
    return [(f"{m.name} ({m.source})", m.path) for m in models.list_models()
            if m.kind == "gguf" and m.path]


def build_app(workspace: Workspace):
    import gradio as gr

    field_names = [f.name for f in dataclasses.fields(ChatSettings)]

    def respond(message, history, model_path, *setting_values):
        if not message or not message.strip():
            yield history, "", "Type a question first."
            return
        settings = ChatSettings(**{name: type(getattr(ChatSettings(), name))(value)
                                   for name, value in zip(field_names, setting_values)})
        prior = [{"role": turn["role"], "content": text_of(turn["content"])}
                 for turn in history or []]
        shown = prior + [{"role": "user", "content": message},
                         {"role": "assistant", "content": ""}]
        try:
            for chunk in pipeline.chat_stream(message, prior, model_path or None, settings):
                shown[-1]["content"] = chunk.text
                status = ""
                if chunk.done:
                    a = chunk.answer
                    status = (f"{a.tokens} tokens in {a.seconds:.1f} s "
                              f"({a.tokens / max(a.seconds, 1e-6):.0f} tokens/s), "
                              f"stopped: {a.stop_reason}")
                yield shown, "", status
        except Exception as error:  # shown to the user; the app keeps running
            yield prior, message, f"Error: {error}"

    with gr.Blocks(title="medllm-local", analytics_enabled=False) as app:
        gr.Markdown(f"# medllm-local\n{DISCLAIMER}", elem_id="header")
        with gr.Tabs(selected="chat"):  # the one stage that works on first launch
            with gr.Tab("Documents", elem_id="tab-documents"):
                inbox = workspace.folder("inbox")
                files = sorted(str(p.relative_to(inbox)) for p in inbox.rglob("*") if p.is_file())
                gr.Markdown(
                    "Reading reports into the workspace (PDF, scans, DOCX, TXT, folders, "
                    "zips) is not built yet (issue 3). Files waiting in the inbox:"
                )
                gr.Dataframe(value=[[f] for f in files] or [["(empty)"]], headers=["file"],
                             interactive=False, elem_id="inbox-files")
            for name, (issue, purpose) in PENDING_TABS.items():
                with gr.Tab(name, elem_id=f"tab-{name.lower()}"):
                    gr.Markdown(f"Not built yet (issue {issue}): {purpose}.")
            with gr.Tab("Chat", id="chat", elem_id="tab-chat"):
                choices = gguf_choices()
                model = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None,
                                    label="Model", elem_id="chat-model")
                chatbot = gr.Chatbot(label="Conversation", height=420, elem_id="chat-history")
                with gr.Row():
                    question = gr.Textbox(placeholder="Describe the case or ask a question",
                                          show_label=False, scale=5, elem_id="chat-input")
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
                    stop = gr.Button("Stop", scale=1, elem_id="chat-stop")
                status = gr.Markdown("", elem_id="chat-status")
                with gr.Accordion("Generation settings", open=False):
                    setting_inputs = settings_widgets(ChatSettings)
                inputs = [question, chatbot, model, *setting_inputs]
                outputs = [chatbot, question, status]
                events = [send.click(respond, inputs, outputs),
                          question.submit(respond, inputs, outputs)]
                stop.click(None, None, None, cancels=events)
            with gr.Tab("Settings", elem_id="tab-settings"):
                gr.Markdown(f"Workspace: `{workspace.root}`")
                guard = gr.JSON(value=offline.guard_status(), label="Offline guard",
                                elem_id="offline-status")
                report = gr.JSON(value=None, label="Models and what fits this GPU")
                refresh = gr.Button("Refresh", elem_id="settings-refresh")
                refresh.click(lambda: (offline.guard_status(), pipeline.models_report()),
                              None, [guard, report])
    return app


def offline_theme():
    """The default look with system fonts: the stock theme would fetch web fonts."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def launch_app(host: str = "127.0.0.1", port: int = 7860, workspace: str | Path | None = None,
               password: str | None = None, block: bool = True):
    """Open the workspace and serve the app; returns the Gradio app when not blocking."""
    if not offline.is_local_address(host):
        offline.allow_host(host)  # the user chose to serve on this address
    ws = pipeline.open_workspace(workspace)
    app = build_app(ws)
    auth = (lambda _user, given: given == password) if password else None
    print(json.dumps({"serving": f"http://{host}:{port}", "workspace": str(ws.root)}), flush=True)
    app.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=False, inbrowser=False, auth=auth,
        theme=offline_theme(), prevent_thread_lock=not block, show_error=True,
        footer_links=[], ssr_mode=False,
    )
    return app
