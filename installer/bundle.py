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
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `installer` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from installer import install  # noqa: E402

MANIFEST = "manifest.json"
BUNDLE_KIND = "medllm-local-bundle"
FORMAT = 1
# Made inside the bundle's project by installing and using it, never read as the bundle.
RUNTIME_FOLDERS = tuple(f"medllm-local/{name}/" for name in
                        (".venv", "tools", "models", ".pytest_cache", "test-artifacts"))
# The installed venv is about 2.5x the wheels (compressed) it comes from; the rest is
# headroom for pip's unpacking.
DISK_FACTOR = 3.0


class BundleError(RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def os_release() -> str:
    """'debian 12', say: .deb files are only good on the release they were taken from."""
    fields = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            fields[key] = value.strip().strip('"')
    except OSError:
        return "unknown"
    return f"{fields.get('ID', 'unknown')} {fields.get('VERSION_ID', '')}".strip()


def this_machine() -> dict:
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "platform": sysconfig.get_platform(), "os": os_release()}


def pyproject_sha256(root: Path) -> str:
    return sha256_file(root / "pyproject.toml")


# ---------------------------------------------------------------------------- manifest


def write_manifest(folder: Path, info: dict) -> dict:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[path.relative_to(folder).as_posix()] = {"sha256": sha256_file(path),
                                                      "size": path.stat().st_size}
    manifest = {"kind": BUNDLE_KIND, "format": FORMAT, **info, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{folder} is not a medllm-local bundle: it has no {MANIFEST}") from None
    except (OSError, ValueError) as error:
        raise BundleError(f"{path} cannot be read: {error}") from None
    if manifest.get("kind") != BUNDLE_KIND or manifest.get("format") != FORMAT:
        raise BundleError(f"{path} is not a format-{FORMAT} medllm-local bundle manifest")
    return manifest


def check_compatible(manifest: dict, machine: dict | None = None) -> list[str]:
    """Refuse a bundle for another Python or platform; return warnings (another OS
    release only matters to the .deb files)."""
    machine = machine or this_machine()
    for key, what in (("python", "Python"), ("platform", "platform")):
        if manifest.get(key) != machine[key]:
            raise BundleError(
                f"this bundle was built for {what} {manifest.get(key)}, but this machine has "
                f"{what} {machine[key]}: build it on a twin with {what} {machine[key]}")
    if manifest.get("os") != machine["os"]:
        return [f"the bundle's .deb files are for {manifest.get('os')}, this is "
                f"{machine['os']}: they are not installed"]
    return []


def verify_files(folder: Path, manifest: dict) -> None:
    """Every listed file present with its size and sha256, and nothing else in the
    folders the installer reads or copies from: one error that names every bad file.
    (What installing and using the project makes inside it is not the bundle's.)"""
    problems = []
    listed = manifest["files"]
    for name, expected in listed.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != expected["size"] or sha256_file(path) != expected["sha256"]:
            problems.append(f"{name}: corrupted (its sha256 differs from the manifest)")
    for sub in ("wheelhouse", "debs", "converter", "models", "medllm-local"):
        for path in (folder / sub).rglob("*") if (folder / sub).is_dir() else ():
            name = path.relative_to(folder).as_posix()
            if name.startswith(RUNTIME_FOLDERS) or "__pycache__" in name:
                continue
            if path.is_file() and name not in listed:
                problems.append(f"{name}: not in the manifest")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BundleError(f"the bundle in {folder} failed its check; copy it again:\n  "
                          f"{shown}{more}")


def needed_bytes(manifest: dict) -> int:
    sizes = manifest["files"]
    wheels = sum(v["size"] for k, v in sizes.items() if k.startswith("wheelhouse/"))
    models = sum(v["size"] for k, v in sizes.items() if k.startswith("models/"))
    return int(wheels * DISK_FACTOR) + models


def check_disk(manifest: dict, target: Path, free: int | None = None) -> None:
    free = shutil.disk_usage(target).free if free is None else free
    needed = needed_bytes(manifest)
    if free < needed:
        raise BundleError(f"not enough disk in {target}: installing this bundle needs about "
                          f"{needed / 2**30:.1f} GiB, {free / 2**30:.1f} GiB is free")


@dataclass
class Bundle:
    """A verified bundle: where pip, dpkg and the copy steps find their files."""

    folder: Path
    manifest: dict
    warnings: list[str]

    @property
    def wheelhouse(self) -> Path:
        return self.folder / "wheelhouse"

    @property
    def converter(self) -> Path:
        return self.folder / "converter" / "llama.cpp"

    @property
    def debs(self) -> list[Path]:
        return sorted((self.folder / "debs").glob("*.deb")) if not self.warnings else []

    @property
    def models(self) -> list[Path]:
        root = self.folder / "models"
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def open_bundle(path: Path, project_root: Path) -> Bundle:
    """Check a bundle before anything is installed from it (a .tar is unpacked beside
    itself first)."""
    path = path.expanduser().resolve()
    if path.is_file() and tarfile.is_tarfile(path):
        path = unpack(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such bundle folder")
    manifest = read_manifest(path)
    warnings = check_compatible(manifest)
    ours = pyproject_sha256(project_root)
    if manifest.get("pyproject_sha256") != ours:
        raise BundleError(f"the bundle in {path} was built for another version of "
                          f"medllm-local (its pyproject.toml differs from {project_root}): "
                          f"use the medllm-local/ folder inside the bundle")
    check_disk(manifest, project_root)
    verify_files(path, manifest)
    return Bundle(path, manifest, warnings)


def unpack(archive: Path) -> Path:
    """A bundle .tar (or .tar.gz) unpacked into a folder beside it, once."""
    stem = archive.name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        stem = stem.removesuffix(suffix)
    target = archive.with_name(stem if stem != archive.name else stem + "-unpacked")
    if (target / MANIFEST).is_file():
        return target
    install.say("bundle", f"unpacking {archive} into {target}")
    staging = Path(tempfile.mkdtemp(dir=archive.parent, prefix=".unpack-"))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # 3.11.4+: refuses links and odd paths
                tar.extractall(staging, filter="data")
            else:  # older 3.11: only plain files and folders inside the archive
                members = [m for m in tar.getmembers() if (m.isfile() or m.isdir())
                           and not m.name.startswith("/") and ".." not in Path(m.name).parts]
                tar.extractall(staging, members=members)
        inner = list(staging.iterdir())
        (inner[0] if len(inner) == 1 and inner[0].is_dir() else staging).rename(target)
    except (OSError, tarfile.TarError) as error:
        raise BundleError(f"{archive} could not be unpacked into {target}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ------------------------------------------------------------------------- Debian files


def deb_closure(packages: list[str]) -> list[str]:
    """Every package apt would install for ``packages`` on a system with nothing
    installed (first alternatives, no recommends): what a bare twin needs."""
    with tempfile.NamedTemporaryFile() as empty_status:
        out = subprocess.run(
            ["apt-get", "install", "-s", "-o", f"Dir::State::status={empty_status.name}",
             "-o", "APT::Install-Recommends=false", *packages],
            capture_output=True, text=True)
    if out.returncode != 0:
        raise BundleError(f"apt-get could not resolve {' '.join(packages)}: "
                          f"{out.stderr.strip()[-300:]}")
    return [line.split()[1] for line in out.stdout.splitlines() if line.startswith("Inst ")]


def debs_to_install(debs: list[Path]) -> list[Path]:
    """The bundle's .deb files whose package is not installed here at all: an installed
    package is never replaced (it may be newer than the bundle's)."""
    missing = []
    for deb in debs:
        name = subprocess.run(["dpkg-deb", "-f", str(deb), "Package"], capture_output=True,
                              text=True, check=True).stdout.strip()
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                                capture_output=True, text=True).stdout
        if "install ok installed" not in status:
            missing.append(deb)
    return missing


def deb_install_command(debs: list[Path]) -> list[str]:
    # --no-download: anything not in the bundle is an error, never a network fetch.
    return ["apt-get", "install", "-y", "--no-download", "--no-install-recommends",
            *[str(d) for d in debs]]


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


def build_wheelhouse(wheelhouse: Path, wheels: list[Path], variant: str) -> None:
    install.say("bundle 1/5", f"llama-cpp-python {install.LLAMA_VERSION} ({variant})")
    llama = install.find_llama_wheel(wheels, variant) or install.build_llama_wheel(wheels, variant)
    meta = install.project()["project"]
    requirements = [r for r in meta["dependencies"] if not r.startswith("llama-cpp-python")]
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
          make_tar: bool = False, with_debs: bool = True) -> dict:
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
    build_wheelhouse(staging / "wheelhouse", wheels, variant)

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
        "model": model.name if model is not None else None})
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
    check = sub.add_parser("verify", help="check a bundle's files against its manifest")
    check.add_argument("bundle", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(json.dumps(build(args.out, args.model, args.wheels, args.tar,
                                   with_debs=not args.no_debs)))
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
