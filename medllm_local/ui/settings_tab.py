"""The Settings tab: the workspace's de-identification lists and options (used by every
later de-identification), adding a base model, the offline guard's state, and the
models with what fits this GPU."""

from __future__ import annotations

from medllm_local import pipeline
from medllm_local.core import offline
from medllm_local.core.settings import specs
from medllm_local.pipeline.deid import DEID_OPTIONS
from medllm_local.stages.deid.engine import DeidSettings
from medllm_local.ui.forms import settings_form
from medllm_local.workspace.store import Workspace


def build_settings_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown(f"Workspace: `{workspace.root}`")
    saved = workspace.load_settings()
    deny = gr.Textbox(value=saved.get("deny_list", ""), elem_id="settings-deny",
                      label="Always remove (your name, staff, sites; comma-separated)")
    allow = gr.Textbox(value=saved.get("allow_list", ""), elem_id="settings-allow",
                       label="Never remove (words wrongly taken for identifiers)")
    save = gr.Button("Save de-identification lists", elem_id="settings-save")
    saved_note = gr.Markdown("", elem_id="settings-saved")

    def save_lists(deny_list: str, allow_list: str) -> str:
        workspace.save_settings({"deny_list": deny_list, "allow_list": allow_list})
        return "Saved; used by the next de-identification."

    save.click(save_lists, [deny, allow], [saved_note], api_name="settings_save_lists")
    current = pipeline.saved_deid_settings(workspace)
    # the options a workspace keeps (the lists are above; keep_map is per run)
    deid_form = settings_form(DeidSettings, "settings", current, exclude=tuple(
        spec.name for spec in specs(DeidSettings) if spec.name not in DEID_OPTIONS))
    save_options = gr.Button("Save de-identification options",
                             elem_id="settings-save-options")
    options_note = gr.Markdown("", elem_id="settings-options-saved")

    def save_deid(*values) -> str:
        try:
            checked = deid_form.settings(*values)
            pipeline.save_deid_options(workspace, **{name: getattr(checked, name)
                                                     for name in deid_form.inputs})
        except ValueError as error:
            return f"Not saved: {error}"
        return "Saved; used by the next de-identification (options given on the " \
               "command line still win there)."

    save_options.click(save_deid, deid_form.components, [options_note],
                       api_name="settings_save_deid_options")
    with gr.Accordion("Models: add a base model", open=False, elem_id="settings-models"):
        gr.Markdown("Give the folder of a Hugging Face Instruct model (copied from a USB stick, "
                    "say) or a `.gguf` file. It is checked first (weights, tokenizer, chat "
                    "template, licence, and whether it fits this machine), then copied into the "
                    "models folder and offered for training and chat.")
        with gr.Row():
            model_path = gr.Textbox(label="Folder or .gguf file", elem_id="settings-model-path",
                                    placeholder="/media/usb/Llama-3.1-8B-Instruct")
            model_name = gr.Textbox(label="Name (optional)", elem_id="settings-model-name")
        with gr.Row():
            check_button = gr.Button("Check", elem_id="settings-model-check")
            add_button = gr.Button("Check and add", variant="primary", elem_id="settings-model-add")
        model_note = gr.Markdown("", elem_id="settings-model-note")

    def checked_text(check: dict) -> str:
        size = f", {check['parameters'] / 1e9:.2f}B parameters" if check["parameters"] else ""
        lines = [f"**{check['name']}**: {check['kind']} {check['architecture']}{size}"]
        lines += [f"- problem: {p}" for p in check["problems"]] + [f"- {n}" for n in check["notes"]]
        return "\n".join(lines)

    def check_model(path: str) -> str:
        try:
            return checked_text(pipeline.check_model(path.strip()))
        except (ValueError, OSError, RuntimeError) as error:
            raise gr.Error(str(error)) from error

    def add_model(path: str, name: str) -> str:
        try:
            added = pipeline.add_model(path.strip(), name.strip() or None)
        except (ValueError, OSError, RuntimeError) as error:
            raise gr.Error(str(error)) from error
        return f"Added **{added['model']}** ({added['path']}).\n" + "\n".join(f"- {n}" for n in added["notes"])

    check_button.click(check_model, model_path, model_note, api_name="settings_check_model")
    add_button.click(add_model, [model_path, model_name], model_note, api_name="settings_add_model")
    guard = gr.JSON(value=offline.guard_status(), label="Offline guard",
                    elem_id="offline-status")
    report = gr.JSON(value=None, label="Models and what fits this GPU")
    refresh = gr.Button("Refresh", elem_id="settings-refresh")
    refresh.click(lambda: (offline.guard_status(), pipeline.models_report()),
                  None, [guard, report], api_name="settings_refresh")

    def on_load():
        saved, current = workspace.load_settings(), pipeline.saved_deid_settings(workspace)
        return (saved.get("deny_list", ""), saved.get("allow_list", ""),
                *(getattr(current, name) for name in deid_form.inputs))

    return [(on_load, [deny, allow, *deid_form.components])]
