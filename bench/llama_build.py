"""What the installer's CMake options save when llama-cpp-python compiles llama.cpp.

Configures the pinned sdist twice with CMake (no compiling): once as a plain
`pip install llama-cpp-python` would (GGML_NATIVE on, mtmd and HTTPS client built), once
with the installer's flags, and counts the C/C++ translation units each would compile
(from compile_commands.json), side by side. With ``--build`` it also compiles both and
times them (several minutes each on 2 cores).

    .venv/bin/python bench/llama_build.py [--build]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from installer import install  # noqa: E402

DEFAULT_FLAGS = ""  # what a plain `pip install llama-cpp-python` passes
VARIANTS = {"default": DEFAULT_FLAGS, "installer": install.LLAMA_CMAKE_CPU}


def configure(source: Path, build: Path, flags: str) -> dict:
    started = time.perf_counter()
    subprocess.run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", *shlex.split(flags)],
                   check=True, capture_output=True)
    commands = json.loads((build / "compile_commands.json").read_text())
    per_target: dict[str, int] = {}
    for command in commands:  # the CMake target a unit belongs to: .../CMakeFiles/<t>.dir/...
        output = command.get("output") or command["command"].split(" -o ")[1].split()[0]
        target = output.split("CMakeFiles/")[1].split(".dir/")[0] if "CMakeFiles/" in output else "?"
        per_target[target] = per_target.get(target, 0) + 1
    return {"configure_seconds": round(time.perf_counter() - started, 1),
            "translation_units": len(commands),
            "units_per_target": dict(sorted(per_target.items()))}


def build(build_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2)],
                   check=True, capture_output=True)
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="also compile and time both")
    args = parser.parse_args()
    sdist = install.llama_sdist([])
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp, filter="data")
        source = Path(tmp) / f"llama_cpp_python-{install.LLAMA_VERSION}"
        report = {}
        for name, flags in VARIANTS.items():
            build_dir = Path(tmp) / f"build-{name}"
            report[name] = {"flags": flags or "(none)", **configure(source, build_dir, flags)}
            if args.build:
                report[name]["build_seconds"] = build(build_dir)
        saved = report["default"]["translation_units"] - report["installer"]["translation_units"]
        report["units_saved"] = saved
        report["units_saved_fraction"] = round(saved / report["default"]["translation_units"], 3)
        if args.build:
            report["build_speedup"] = round(report["default"]["build_seconds"]
                                            / report["installer"]["build_seconds"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
