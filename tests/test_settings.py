"""One settings schema for every face: each stage's settings dataclass gives the CLI's
options, the app's form inputs and a job's argv, and checks values the same way in both.
A field added to a dataclass shows up everywhere or these tests fail."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil

import pytest

import medllm_local
from medllm_local.cli.args import add_settings_arguments, settings_from_args
from medllm_local.cli.main import build_parser
from medllm_local.core.settings import Settings, specs, to_argv
from medllm_local.stages.chat.answer import ChatSettings, DifferentialSettings
from medllm_local.stages.clean import CleanSettings
from medllm_local.stages.dataset.augment import METHODS
from medllm_local.stages.dataset.build import BuildSettings
from medllm_local.stages.deid.engine import DeidSettings
from medllm_local.stages.evaluate import EvalSettings
from medllm_local.stages.export import QUANT_TYPES, ExportSettings
from medllm_local.stages.ingest.base import IngestSettings
from medllm_local.stages.train.plan import TrainSettings

# each settings type, with the command (and its required arguments) that takes it
COMMANDS = {
    IngestSettings: ["ingest", "reports/"],
    DeidSettings: ["deid", "--all"],
    CleanSettings: ["clean"],
    BuildSettings: ["build"],
    TrainSettings: ["train"],
    EvalSettings: ["eval"],
    ExportSettings: ["export", "1"],
    ChatSettings: ["chat", "--prompt", "fever"],
    DifferentialSettings: ["chat", "--prompt", "fever"],
}


def other_value(spec):
    """A valid value different from the default, for every kind of field."""
    if spec.is_list:
        return tuple(spec.choices[:1]) if spec.choices and spec.default != tuple(spec.choices[:1]) \
            else ("Lakeside", "Hilltop Annex") if not spec.choices else tuple(spec.choices[1:2])
    if spec.choices:
        return next(c for c in spec.choices if c != spec.default)
    if spec.kind is bool:
        return not spec.default
    if spec.kind is str:
        return "other"
    low = spec.above if spec.above is not None else spec.minimum
    value = spec.default + (1 if spec.kind is int else 0.25 * (spec.maximum or 1))
    if spec.maximum is not None and value > spec.maximum:
        value = spec.default - (1 if spec.kind is int else 0.25 * (spec.maximum - (low or 0)))
    return spec.kind(value)


def test_every_settings_dataclass_in_the_package_uses_the_schema():
    found = set()
    for module in pkgutil.walk_packages(medllm_local.__path__, "medllm_local."):
        if ".ui." in module.name or module.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and value.__name__.endswith("Settings") \
                    and dataclasses.is_dataclass(value) and value.__module__ == module.name:
                found.add(value)
    assert found == set(COMMANDS)
    assert all(issubclass(t, Settings) for t in found)


@pytest.mark.parametrize("settings_type", list(COMMANDS), ids=lambda t: t.__name__)
def test_cli_options_and_job_argv_round_trip_every_field(settings_type):
    parser = build_parser()
    command = COMMANDS[settings_type]
    # the defaults, as the CLI gives them
    assert settings_from_args(settings_type, parser.parse_args(command)) == settings_type()
    # every field changed at once, through the argv the app would start a job with
    changed = settings_type(**{spec.name: other_value(spec) for spec in specs(settings_type)})
    argv = to_argv(changed)
    assert len([a for a in argv if a.startswith("--")]) == len(specs(settings_type))
    assert settings_from_args(settings_type, parser.parse_args(command + argv)) == changed


def test_values_are_checked_with_the_option_named():
    with pytest.raises(ValueError, match="--learning-rate must be above 0"):
        TrainSettings(learning_rate=0)
    with pytest.raises(ValueError, match="--batching: 'fast' is not one of auto, packed"):
        TrainSettings(batching="fast")
    with pytest.raises(ValueError, match="--lora-r must be a whole number"):
        TrainSettings.from_values({"lora_r": 2.5})
    with pytest.raises(ValueError, match="--temperature must be between 0 and 2, not 5"):
        ChatSettings(temperature=5)
    with pytest.raises(ValueError, match="--tasks: 'summary' is not one of"):
        BuildSettings(tasks="diagnosis,summary")
    with pytest.raises(ValueError, match="unknown settings: learning_rat"):
        TrainSettings.from_values({"learning_rat": 1e-4})
    with pytest.raises(ValueError, match="give --epochs > 0 or --max-steps > 0"):
        TrainSettings(epochs=0)


def test_form_values_become_typed_settings():
    # what Gradio hands a handler: floats for whole numbers, lists for ticks, text
    settings = TrainSettings.from_values({"max_steps": 2.0, "batch_size": 2.0, "learning_rate": 1e-4,
                                          "batching": "packed"})
    assert (settings.max_steps, settings.batch_size, settings.batching) == (2, 2, "packed")
    assert isinstance(settings.max_steps, int)
    build = BuildSettings.from_values({"augment": ["fillers", "synonyms"], "tasks": "diagnosis, treatment"})
    assert build.augment == ("fillers", "synonyms") and build.tasks == ("diagnosis", "treatment")
    assert DeidSettings(deny_list="Lakeside, Hilltop Annex").deny_list == ("Lakeside", "Hilltop Annex")
    assert ExportSettings(quant="q8_0").quant == "Q8_0"
    assert to_argv(TrainSettings(max_steps=2, learning_rate=1e-4)) == [
        "--max-steps", "2", "--learning-rate", "0.0001"]
    assert to_argv(EvalSettings(perplexity=False)) == ["--no-perplexity"]
    assert BuildSettings(augment="fillers").to_json()["augment"] == ["fillers"]


def test_auto_is_a_value_on_the_command_line_and_in_the_form():
    """"auto" (or "auto (512)", as the form shows a pick) means the field's automatic value."""
    from medllm_local.ui.forms import auto_text

    assert TrainSettings.from_values({"batch_size": "auto (8)", "max_length": "auto"}).batch_size == 0
    assert TrainSettings.from_values({"max_length": "768"}).max_length == 768
    with pytest.raises(ValueError, match="--batch-size must be a whole number, not 'eight'"):
        TrainSettings.from_values({"batch_size": "eight"})
    by_name = {spec.name: spec for spec in specs(TrainSettings)}
    assert auto_text(by_name["max_length"], 0) == "auto"
    assert auto_text(by_name["max_length"], 0, 512) == "auto (512)"
    assert auto_text(by_name["max_length"], 768, 512) == "768"
    assert auto_text(by_name["gpu_memory_gib"], 20.0) == "20"
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, TrainSettings)
    args = parser.parse_args(["--batch-size", "auto", "--max-length", "1024"])
    settings = settings_from_args(TrainSettings, args)
    assert (settings.batch_size, settings.max_length) == (0, 1024)
    assert not by_name["epochs"].auto and by_name["learning_rate"].auto is None


def test_choices_in_the_schema_are_the_stages_own():
    by_name = {spec.name: spec for spec in specs(BuildSettings)}
    assert by_name["augment"].choices == METHODS
    assert set(next(s for s in specs(ExportSettings) if s.name == "quant").choices) == set(QUANT_TYPES)


def test_every_tab_form_has_an_input_for_every_field(tmp_path):
    """The app offers every setting the CLI has (the everyday ones in view, the rest
    under Advanced); the workspace options are in the Settings tab."""
    from medllm_local import pipeline
    from medllm_local.pipeline.deid import DEID_OPTIONS
    from medllm_local.ui.app import build_app

    app = build_app(pipeline.open_workspace(tmp_path / "ws"))
    ids = {c.get("props", {}).get("elem_id") for c in app.config["components"]}
    prefixes = {TrainSettings: "train", ExportSettings: "export", EvalSettings: "eval",
                BuildSettings: "dataset", CleanSettings: "clean", IngestSettings: "ingest",
                ChatSettings: "chat-setting", DifferentialSettings: "differential-setting"}
    for settings_type, prefix in prefixes.items():
        missing = [s.name for s in specs(settings_type) if f"{prefix}-{s.name}" not in ids]
        assert not missing, (settings_type.__name__, missing)
    assert {f"settings-{name}" for name in DEID_OPTIONS} <= ids
    advanced = {c["props"].get("elem_id") for c in app.config["components"]
                if c.get("props", {}).get("label") == "Advanced"}
    assert "train-advanced" in advanced
