#!/usr/bin/env python3
"""Start medllm-local. Standard library only, so it runs on a bare Python 3.11+.

    python3 launch.py                 install on first run (into .venv), then start the app
    python3 launch.py --selftest      install what the tests need, then run the test suite
    python3 launch.py --bundle PATH   install offline from a bundle (installer/bundle.py),
                                      then start the app
    python3 launch.py COMMAND ...     run one pipeline stage (see --help)

Extra flags handled here: ``--wheels DIR`` (prebuilt wheels for the installer),
``--bundle PATH`` and, with ``--selftest``, any further arguments go to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()


def take_option(argv: list[str], name: str) -> tuple[list[str], list[str]]:
    """Remove every ``name VALUE`` / ``name=VALUE`` from argv; return (values, rest)."""
    values, rest, i = [], [], 0
    while i < len(argv):
        if argv[i] == name and i + 1 < len(argv):
            values.append(argv[i + 1])
            i += 2
            continue
        if argv[i].startswith(name + "="):
            values.append(argv[i].split("=", 1)[1])
        else:
            rest.append(argv[i])
        i += 1
    return values, rest


def ensure_installed(dev: bool, wheels: list[str], bundle: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    from installer import install

    installed = install.is_installed(dev)
    if installed and not bundle:
        return
    if not installed:  # (with a bundle the installer still checks it and copies its model)
        print("medllm-local: first run, installing into .venv (this happens once)"
              + (f" from the bundle {bundle}" if bundle else "") + "...", file=sys.stderr,
              flush=True)
    code = subprocess.call([sys.executable, str(ROOT / "installer" / "install.py"),
                            *(["--dev"] if dev else []),
                            *(["--bundle", bundle] if bundle else []),
                            *[arg for w in wheels for arg in ("--wheels", w)]],
                           stdout=sys.stderr)  # stdout stays the command's (--json)
    if code != 0:
        sys.exit(code)


def main() -> int:
    wheels, argv = take_option(sys.argv[1:], "--wheels")
    bundles, argv = take_option(argv, "--bundle")
    if bundles and not in_venv():
        if "--selftest" in argv:
            print("launch.py: a bundle carries the app, not the test tools", file=sys.stderr)
            return 2
        ensure_installed(dev=False, wheels=wheels, bundle=bundles[-1])
    if "--selftest" in argv:
        argv.remove("--selftest")
        ensure_installed(dev=True, wheels=wheels)
        return subprocess.call([str(VENV_PYTHON), "-m", "pytest", *argv], cwd=ROOT)
    if in_venv() or {"-h", "--help", "--version"} & set(argv):
        # --help needs nothing installed: the CLI's parser is standard library only.
        sys.path.insert(0, str(ROOT))
        from medllm_local.cli.main import main as cli_main

        return cli_main(argv)
    ensure_installed(dev=False, wheels=wheels)
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(ROOT / "launch.py"), *argv])


if __name__ == "__main__":
    sys.exit(main())
