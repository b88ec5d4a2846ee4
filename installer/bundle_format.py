"""Reading and checking an offline bundle (built by installer/bundle.py): its manifest,
whether it fits this machine, its files' hashes, the disk it needs, and which of its
Debian packages are missing here. Standard library only, and it imports nothing else of
the installer, so install.py and bundle.py both stand on it (no circle between them)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

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
    print(f"[install bundle] unpacking {archive} into {target}", flush=True)
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
