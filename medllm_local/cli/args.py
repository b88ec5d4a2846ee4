"""What every command shares: options from a settings dataclass, the one-JSON-object
stdout, the failure line, and the workspace a command works on."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator

from medllm_local.core.settings import specs


# -- settings dataclasses <-> argparse ---------------------------------------------------
def add_settings_arguments(parser: argparse.ArgumentParser, settings_type: type) -> None:
    """One ``--option`` per field of a settings dataclass (core/settings.py): its type,
    choices, bounds, default and help. Values are checked when the settings are made,
    with the same messages as in the app."""
    for spec in specs(settings_type):
        notes = [spec.help]
        if spec.choices:
            notes.append(("comma-separated, from " if spec.is_list else "one of ") + ", ".join(spec.choices))
        if spec.bounds_text():
            notes.append(spec.bounds_text())
        default = ",".join(spec.default) if spec.is_list else spec.default
        help_text = "; ".join(notes) + f" (default {repr(default) if isinstance(default, str) else default})"
        if spec.kind is bool and not spec.is_list:
            parser.add_argument(spec.flag, action=argparse.BooleanOptionalAction,
                                default=spec.default, help=help_text)
        else:
            metavar = "{" + ",".join(spec.choices) + "}" if spec.choices and not spec.is_list else None
            # a field with an "auto" value takes the word too; the settings convert it
            kind = str if spec.is_list or spec.auto is not None else spec.kind
            parser.add_argument(spec.flag, type=kind, default=spec.default,
                                metavar=metavar or ("N|auto" if spec.auto is not None else None),
                                help=help_text)


def settings_from_args(settings_type: type, args: argparse.Namespace):
    """The settings dataclass from parsed arguments (checked as it is made)."""
    return settings_type(**{spec.name: getattr(args, spec.name) for spec in specs(settings_type)})


# -- output ------------------------------------------------------------------------------
@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr while a stage runs (llama.cpp and friends print
    from C), so that stdout carries nothing but the one JSON object."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class PartialFailure(Exception):
    """A batch that ran to the end with some items failed: the whole report is still
    printed, and the exit status says not everything went through."""

    def __init__(self, message: str, result):  # a dict or a stage's result record
        super().__init__(message)
        self.result = result


def fail(message: str, as_json: bool) -> int:
    line = " ".join(str(message).split())  # one line, always
    print(f"error: {line}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": line}))
    return 1


# -- progress ------------------------------------------------------------------------------
@contextlib.contextmanager
def progress_bar(unit: str, describe: Callable[[str], str] | None = None,
                 job: tuple[object, int] | None = None) -> Iterator[Callable[[int, int, str], None]]:
    """A tqdm bar on stderr, as the ``progress(done, total, what)`` callback the pipeline
    takes. ``describe`` turns ``what`` into the bar's label (None: no label, for stages
    whose ``what`` is nothing to show); ``job`` (workspace, job id), for a command the app
    started, also records each step for the app to poll."""
    from tqdm import tqdm

    with tqdm(total=0, unit=unit, file=sys.stderr, dynamic_ncols=True) as bar:
        def progress(done: int, total: int, what: str = "") -> None:
            bar.total = total
            if what and describe is not None:
                bar.set_description(describe(what)[-40:], refresh=False)
            bar.update(done - bar.n)
            if job is not None:
                from medllm_local.pipeline.jobs import record_progress

                record_progress(job[0], job[1], done, total, what)

        yield progress


# -- the workspace ---------------------------------------------------------------------
def open_workspace(args: argparse.Namespace):
    from medllm_local import pipeline

    return pipeline.open_workspace(getattr(args, "workspace", None))
