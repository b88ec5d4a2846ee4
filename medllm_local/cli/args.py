"""What every command shares: options from a settings dataclass, the one-JSON-object
stdout, the failure line, and the workspace a command works on."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import typing
from collections.abc import Iterator


# -- settings dataclasses <-> argparse ---------------------------------------------------
def add_settings_arguments(parser: argparse.ArgumentParser, settings_type: type) -> None:
    """One ``--option`` per field of a settings dataclass, with its type, default and help."""
    hints = typing.get_type_hints(settings_type)
    for item in dataclasses.fields(settings_type):
        kind = hints[item.name]
        flag = "--" + item.name.replace("_", "-")
        help_text = f"{item.metadata.get('help', '')} (default {item.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=item.default, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=item.default, help=help_text)


def settings_from_args(settings_type: type, args: argparse.Namespace):
    """The settings dataclass from parsed arguments (its ``__post_init__`` checks them)."""
    return settings_type(**{f.name: getattr(args, f.name) for f in dataclasses.fields(settings_type)})


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

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def fail(message: str, as_json: bool) -> int:
    line = " ".join(str(message).split())  # one line, always
    print(f"error: {line}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": line}))
    return 1


# -- the workspace ---------------------------------------------------------------------
def open_workspace(args: argparse.Namespace):
    from medllm_local import pipeline

    return pipeline.open_workspace(getattr(args, "workspace", None))
