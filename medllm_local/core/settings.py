"""The settings schema, once for every face.

Each stage's settings are a dataclass of ``setting(...)`` fields. The field's type says
what it holds (``int``, ``float``, ``bool``, ``str``, a ``Literal`` of choices, or a
``tuple`` of them for a list), its metadata says the help line, the bounds and whether it
is an "Advanced" option. From that one description come the CLI options
(cli/args.py), every tab's form (ui/forms.py), the argv of a job the app starts
(``to_argv``), and the checks (``Settings.__post_init__``), so a value is validated the
same way in the app as on the command line, before any child process starts.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

__all__ = ["Settings", "SettingSpec", "setting", "specs", "to_argv", "flag"]


def setting(default: Any, help: str, *, minimum: float | None = None, maximum: float | None = None,
            above: float | None = None, advanced: bool = False, auto: Any = None) -> Any:
    """A settings field. ``minimum``/``maximum`` are inclusive bounds, ``above`` an
    exclusive lower bound; ``advanced`` fields sit under "Advanced" in the app; ``auto``
    is the value that means "picked for you", written and read as "auto" (a form shows
    "auto (512)" once it knows what was picked)."""
    metadata = {"help": help, "minimum": minimum, "maximum": maximum, "above": above,
                "advanced": advanced, "auto": auto}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default=tuple(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class SettingSpec:
    """What one settings field is, for building a CLI option, a form input or a check."""

    name: str
    kind: type                      # int, float, bool or str (the element type for lists)
    default: Any
    help: str
    choices: tuple[str, ...] = ()   # a Literal's values
    is_list: bool = False           # a tuple of values (comma-separated on the CLI)
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    advanced: bool = False
    auto: Any = None                # the value written "auto" (None: no such value)

    @property
    def flag(self) -> str:
        return flag(self.name)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def bounds_text(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"between {self.minimum:g} and {self.maximum:g}"
        low = (f"above {self.above:g}" if self.above is not None else
               f"at least {self.minimum:g}" if self.minimum is not None else "")
        high = f"at most {self.maximum:g}" if self.maximum is not None else ""
        return " and ".join(part for part in (low, high) if part)

    def convert(self, value: Any) -> Any:
        """A form's or a command line's value as this field's type ("8" -> 8, 8.0 -> 8,
        "a, b" -> ("a", "b")); ValueError names the option when it cannot be."""
        if self.is_list:
            items = value.split(",") if isinstance(value, str) else list(value or ())
            return tuple(str(item).strip() for item in items if str(item).strip())
        if value is None or (isinstance(value, str) and not value.strip() and self.kind is not str):
            return self.default
        if self.auto is not None and isinstance(value, str) and value.strip().lower().startswith("auto"):
            return self.auto  # "auto", or "auto (512)" as a form shows it
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                        raise ValueError(value)
                    return value.lower() in ("true", "yes", "1")
                return bool(value)
            if self.kind is int:
                number = float(value)
                if number != int(number):
                    raise ValueError(value)
                return int(number)
            return self.kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.flag} must be {'a whole number' if self.kind is int else 'a number' if self.kind is float else 'yes or no'}, "
                             f"not {value!r}") from None

    def check(self, value: Any) -> None:
        """ValueError naming the option when the value is out of its choices or bounds."""
        for item in value if self.is_list else (value,):
            if self.choices and item not in self.choices:
                raise ValueError(f"{self.flag}: {item!r} is not one of {', '.join(self.choices)}")
        if self.kind in (int, float) and not self.is_list:
            if (self.minimum is not None and value < self.minimum) or \
                    (self.maximum is not None and value > self.maximum) or \
                    (self.above is not None and value <= self.above):
                raise ValueError(f"{self.flag} must be {self.bounds_text()}, not {value:g}")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@functools.cache
def specs(settings_type: type) -> tuple[SettingSpec, ...]:
    """The fields of a settings dataclass, as specs, in their order."""
    hints = typing.get_type_hints(settings_type)
    out = []
    for item in dataclasses.fields(settings_type):
        kind, is_list = hints[item.name], False
        if get_origin(kind) is tuple:
            kind, is_list = get_args(kind)[0], True
        choices: tuple[str, ...] = ()
        if get_origin(kind) is Literal:
            choices, kind = tuple(get_args(kind)), str
        meta = item.metadata
        out.append(SettingSpec(item.name, kind, item.default, meta.get("help", ""), choices, is_list,
                               meta.get("minimum"), meta.get("maximum"), meta.get("above"),
                               bool(meta.get("advanced")), meta.get("auto")))
    return tuple(out)


class Settings:
    """Base of every stage's settings: values are converted and checked on creation
    (``check`` adds the checks that span several fields)."""

    def __post_init__(self) -> None:
        for spec in specs(type(self)):
            value = spec.convert(getattr(self, spec.name))
            spec.check(value)
            object.__setattr__(self, spec.name, value)
        self.check()

    def check(self) -> None:
        """Checks across fields; ValueError with a message a user can act on."""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]):
        """Settings from a form's values (strings, floats for ints, lists); fields not
        given keep their defaults. ValueError names the first bad option."""
        known = {spec.name for spec in specs(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**{name: value for name, value in values.items()})

    def changed(self) -> dict[str, Any]:
        """The fields that differ from their defaults."""
        return {spec.name: getattr(self, spec.name) for spec in specs(type(self))
                if getattr(self, spec.name) != spec.default}

    def to_json(self) -> dict[str, Any]:
        return {spec.name: (list(v) if isinstance(v := getattr(self, spec.name), tuple) else v)
                for spec in specs(type(self))}


def to_argv(settings: Settings) -> list[str]:
    """The command-line options that give these settings (only where they differ from
    the defaults), for a job the app starts as `launch.py <stage> ...`."""
    argv: list[str] = []
    by_name = {spec.name: spec for spec in specs(type(settings))}
    for name, value in settings.changed().items():
        spec = by_name[name]
        if spec.kind is bool and not spec.is_list:
            argv.append(spec.flag if value else "--no-" + spec.flag[2:])
        elif spec.is_list:
            argv += [spec.flag, ",".join(value)]
        else:
            argv += [spec.flag, repr(value) if spec.kind is float else str(value)]
    return argv
