#!/usr/bin/env python3
"""The offline bundle: built on a connected twin machine, installed on an air-gapped one.
Standard library only (it runs before anything is installed).

    python3 installer/bundle.py build OUT [--model DIR] [--tar] [--wheels DIR]
    python3 launch.py --bundle OUT            (on the air-gapped machine)

A bundle folder holds:

    manifest.json       sha256 and size of every other file; Python, platform, OS and the
                        project's pyproject.toml hash it was built for
    medllm-local/       the project itself (the files git tracks)
    wheelhouse/         every Python dependency as a wheel (sdist-only ones built here),
                        the llama-cpp-python wheel built once, the spaCy and embedded-model
                        wheels; the installer uses nothing else (pip --no-index)
    converter/llama.cpp llama.cpp's converter from the same sdist as the runtime
    debs/               tesseract and every Debian package it needs on a bare system
    models/NAME/        optional: one base model folder (--model)

The twin must have the same Python minor version, OS release and CPU architecture as
the target: wheels and .deb files are platform-specific, and the build checks nothing it
cannot know about the target. install.py refuses a bundle made for another Python or
platform, with a missing, changed or unexpected file, or without room on disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `installer` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from installer import install  # noqa: E402
from installer.bundle_format import (BundleError, deb_closure, open_bundle,  # noqa: E402
                                     pyproject_sha256, this_machine, write_manifest)

# -------------------------------------------------------------------------------- build


def pip_in(*args: str) -> None:
    install.run([sys.executable, "-m", "pip", *args], env={"MEDLLM_SOCKET_GUARD": "off"})


def project_files(root: Path) -> list[Path]:
    """What git tracks or would track (not what .gitignore names: the venv, models,
    exports); without git, everything but what the installer makes."""
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], capture_output=True)
    if out.returncode == 0 and out.stdout:
        names = sorted(set(out.stdout.decode().split("\0")) - {""})
        return [root / name for name in names if (root / name).is_file()]
    skip = {".venv", "tools", "__pycache__", ".git", ".pytest_cache", "results"}
    files = []
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if not path.is_file() or skip & set(parts):
            continue
        if parts[0] == "models" and parts[1:] != ("README.md",):
            continue  # base models and exports are not the project
        files.append(path)
    return files


def build_wheelhouse(wheelhouse: Path, wheels: list[Path], variant: str, tracking: bool = False) -> None:
    install.say("bundle 1/5", f"llama-cpp-python {install.LLAMA_VERSION} ({variant})")
    llama = install.find_llama_wheel(wheels, variant) or install.build_llama_wheel(wheels, variant)
    meta = install.project()["project"]
    requirements = [r for r in meta["dependencies"] if not r.startswith("llama-cpp-python")]
    if tracking:  # MLflow for `install.py --tracking` on the air-gapped machine
        requirements += meta["optional-dependencies"]["tracking"]
    install.say("bundle 2/5", "every Python dependency, as wheels")
    # The built llama wheel goes in as a file, so its own dependencies come along.
    pip_in("download", "-d", str(wheelhouse), *install.find_links(wheels),
           install.TORCH_PIN, *requirements, str(llama))
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as pinned:
        pinned.write(install.hashed_requirements())
        pinned.flush()
        pip_in("download", "--no-deps", "--require-hashes", "-d", str(wheelhouse),
               *install.find_links(wheels), "-r", pinned.name)
    # Packages published only as source (rouge-score, say) become wheels here, so the
    # air-gapped install builds nothing.
    for sdist in [p for p in wheelhouse.iterdir() if not p.name.endswith(".whl")]:
        pip_in("wheel", "--no-deps", "-w", str(wheelhouse), str(sdist))
        sdist.unlink()


def build(out: Path, model: Path | None = None, wheels: list[Path] | None = None,
          make_tar: bool = False, with_debs: bool = True, tracking: bool = False) -> dict:
    root = install.ROOT
    out = out.expanduser().resolve()
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty: give a new folder")
    if model is not None and not (model / "config.json").is_file():
        raise BundleError(f"{model} is not a Hugging Face model folder (no config.json)")
    started = time.monotonic()
    wheels = [w.expanduser().resolve() for w in wheels or []]
    variant = "cuda" if install.has_nvidia_gpu() and shutil.which("nvcc") else "cpu"
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "wheelhouse").mkdir(parents=True)
    build_wheelhouse(staging / "wheelhouse", wheels, variant, tracking)

    install.say("bundle 3/5", "llama.cpp converter and the project")
    converter = staging / "converter" / "llama.cpp"
    install.extract_converter(wheels, target=converter)
    for path in project_files(root):
        copy = staging / "medllm-local" / path.relative_to(root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)

    install.say("bundle 4/5", "tesseract's Debian packages" if with_debs else "no .deb files")
    if with_debs:
        packages = [p for pkgs in install.SYSTEM_PACKAGES.values() for p in pkgs]
        (staging / "debs").mkdir()
        install.run(["apt-get", "download", *deb_closure(packages)], cwd=staging / "debs")
    if model is not None:
        install.say("bundle 4/5", f"base model {model.name}")
        shutil.copytree(model, staging / "models" / model.name)

    install.say("bundle 5/5", "manifest")
    manifest = write_manifest(staging, {
        **this_machine(), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "llama": f"{install.LLAMA_VERSION} {variant}",
        "pyproject_sha256": pyproject_sha256(root),
        "model": model.name if model is not None else None, "tracking": tracking})
    if out.exists():
        out.rmdir()
    staging.rename(out)
    total = sum(v["size"] for v in manifest["files"].values())
    summary = {"bundle": str(out), "files": len(manifest["files"]), "bytes": total,
               "seconds": round(time.monotonic() - started)}
    if make_tar:
        archive = out.with_name(out.name + ".tar")
        with tarfile.open(archive, "w") as tar:  # wheels are compressed already
            tar.add(out, arcname=out.name)
        summary["tar"] = str(archive)
    install.say("bundle", f"{len(manifest['files'])} files, {total / 2**20:.0f} MiB in {out}, "
                          f"{summary['seconds']} s")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build an offline bundle of medllm-local on a connected machine with "
                    "the same Python, OS release and CPU architecture as the target.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build", help="build a bundle folder (and optionally a .tar)")
    make.add_argument("out", type=Path, help="new folder to write the bundle into")
    make.add_argument("--model", type=Path, help="also carry this Hugging Face model folder")
    make.add_argument("--wheels", type=Path, action="append", default=[], metavar="DIR",
                      help="folder with a built llama-cpp-python wheel (else built once)")
    make.add_argument("--tar", action="store_true", help="also write OUT.tar")
    make.add_argument("--no-debs", action="store_true",
                      help="leave out tesseract's .deb files (the target has tesseract)")
    make.add_argument("--tracking", action="store_true",
                      help="also carry MLflow (the tracking extra), for `install.py --bundle B --tracking`")
    check = sub.add_parser("verify", help="check a bundle's files against its manifest")
    check.add_argument("bundle", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(json.dumps(build(args.out, args.model, args.wheels, args.tar,
                                   with_debs=not args.no_debs, tracking=args.tracking)))
        else:
            bundle = open_bundle(args.bundle, install.ROOT)
            print(json.dumps({"bundle": str(bundle.folder), "ok": True,
                              "files": len(bundle.manifest["files"]),
                              "warnings": bundle.warnings}))
    except (BundleError, install.InstallError) as error:
        print(f"bundle: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
