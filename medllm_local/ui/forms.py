"""A tab's form from a settings dataclass (core/settings.py): one input per field, of
the field's kind (a dropdown for choices, ticks for a list of choices, a checkbox, a
bounded number, a text box), the everyday fields in view and the rest under "Advanced".
The values come back as the settings, checked the same way as on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medllm_local.core.settings import Settings, SettingSpec, specs


@dataclass
class SettingsForm:
    """The inputs of one settings form, in the dataclass's field order."""

    settings_type: type
    inputs: dict[str, Any]

    @property
    def components(self) -> list:
        return list(self.inputs.values())

    def settings(self, *values) -> Settings:
        """The settings from the inputs' values (as a handler receives them); ValueError
        names the option and the reason."""
        return self.settings_type.from_values(dict(zip(self.inputs, values)))

    def checked(self, *values) -> Settings:
        """The settings, or the app's error dialog with the option and the reason: checked
        here, as the CLI checks them, before a job or a batch starts."""
        import gradio as gr

        try:
            return self.settings(*values)
        except ValueError as error:
            raise gr.Error(str(error)) from error


def _input(spec: SettingSpec, prefix: str, value: Any):
    import gradio as gr

    label, elem_id = spec.label, f"{prefix}-{spec.name}"
    info = spec.help + (f" ({spec.bounds_text()})" if spec.bounds_text() else "")
    if spec.is_list and spec.choices:
        return gr.CheckboxGroup(choices=list(spec.choices), value=list(value), label=label, info=info,
                                elem_id=elem_id)
    if spec.is_list:
        return gr.Textbox(value=", ".join(value), label=label, info=info + " (comma-separated)",
                          elem_id=elem_id)
    if spec.choices:
        return gr.Dropdown(choices=list(spec.choices), value=value, label=label, info=info,
                           elem_id=elem_id)
    if spec.kind is bool:
        return gr.Checkbox(value=value, label=label, info=info, elem_id=elem_id)
    if spec.auto is not None:  # "auto", or "auto (512)" once the app knows what it picks
        return gr.Textbox(value=auto_text(spec, value), label=label, info=info + "; a number, or auto",
                          elem_id=elem_id)
    if spec.kind in (int, float):
        return gr.Number(value=value, label=label, info=info, elem_id=elem_id,
                         precision=0 if spec.kind is int else None,
                         minimum=spec.minimum if spec.minimum is not None else spec.above,
                         maximum=spec.maximum)
    return gr.Textbox(value=value, label=label, info=info, elem_id=elem_id)


def auto_text(spec: SettingSpec, value: Any, picked: Any = None) -> str:
    """How a field with an "auto" value shows it: "auto", "auto (512)", or the number."""
    if value != spec.auto:
        return f"{value:g}" if isinstance(value, float) else str(value)
    return "auto" if picked is None else f"auto ({picked})"


def settings_form(settings_type: type, prefix: str, values: Settings | None = None,
                  exclude: tuple[str, ...] = ()) -> SettingsForm:
    """Inputs for every field of ``settings_type`` but ``exclude``, made inside the
    current Gradio layout: the everyday fields in rows, the advanced ones in a closed
    "Advanced" accordion. ``values``: the settings to show (default: the defaults)."""
    import gradio as gr

    values = values or settings_type()
    chosen = [spec for spec in specs(settings_type) if spec.name not in exclude]
    inputs: dict[str, Any] = {}
    for group in (False, True):
        group_specs = [spec for spec in chosen if spec.advanced is group]
        if not group_specs:
            continue
        with (gr.Accordion("Advanced", open=False, elem_id=f"{prefix}-advanced") if group
              else gr.Group()):
            for start in range(0, len(group_specs), 4):
                with gr.Row():
                    for spec in group_specs[start:start + 4]:
                        inputs[spec.name] = _input(spec, prefix, getattr(values, spec.name))
    # the handler gets the values in field order, whatever the layout
    ordered = {spec.name: inputs[spec.name] for spec in chosen}
    return SettingsForm(settings_type, ordered)
