#!/usr/bin/env python3
"""Install medllm-local into ``.venv`` beside the project. Standard library only.

Idempotent: a stamp in the venv records what was installed (a hash of pyproject.toml and
this file), so a second run with nothing changed installs nothing. Steps, in order:

1. torch: the CUDA build when ``nvidia-smi`` works, else the CPU build (``torch==2.13.0``
   is served from local disk on machines that carry it; set MEDLLM_TORCH_INDEX to a CPU
   wheel index elsewhere).
2. llama-cpp-python, pinned: from a built wheel when one is found (``--wheels DIR``,
   PIP_FIND_LINKS, or the machine's wheel cache), else compiled once from the sdist with
   portable flags (CUDA when ``nvcc`` exists) and kept in the wheel cache.
3. The hash-pinned packages (spaCy model, embedded model), without their dependencies.
4. Everything else in pyproject.toml (plus the dev extra with ``--dev``).
5. llama.cpp's own converter, taken from the same sdist into ``tools/llama.cpp``.
6. System packages: tesseract for OCR (and chromium for the browser tests with --dev):
   installed with apt-get when running as root with --dev, otherwise one clear message.

The app itself never needs the network; this installer does, unless it is given an
offline bundle (``--bundle DIR``, built by installer/bundle.py): then every package comes
from the bundle's verified files with ``pip --no-index``, and nothing is fetched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".medllm-install.json"
TOOLS = ROOT / "tools" / "llama.cpp"
CACHE = Path(os.environ.get("MEDLLM_CACHE", Path.home() / ".cache" / "medllm-local"))
LLAMA_PIN = "llama-cpp-python==0.3.36"
LLAMA_VERSION = LLAMA_PIN.split("==")[1]
TORCH_PIN = "torch==2.13.0"
SDIST_NAME = f"llama_cpp_python-{LLAMA_VERSION}.tar.gz"
# CMake options for the binding: no multimodal library (mtmd), no HTTPS client, and
# no -march=native so a wheel built here runs on any x86-64-v3 (AVX2) machine.
LLAMA_CMAKE_CPU = "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_OPENSSL=OFF -DGGML_CCACHE=OFF"
LLAMA_CMAKE_CUDA = LLAMA_CMAKE_CPU + " -DGGML_CUDA=on"
CONVERTER_FILES = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion", "gguf-py",
                   "LICENSE")
SYSTEM_PACKAGES = {"tesseract": ["tesseract-ocr", "tesseract-ocr-eng"]}
DEV_SYSTEM_PACKAGES = {"chromium": ["chromium"]}


class InstallError(RuntimeError):
    pass


# Set for an install from a bundle: pip then reads only the bundle's wheelhouse (no index,
# no config file, no find-links from the environment).
PIP_OFFLINE_ENV: dict[str, str] = {}


def say(step: str, message: str) -> None:
    print(f"[install {step}] {message}", flush=True)


def run(command: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
    print("  $ " + " ".join(command if len(command) < 12 else [*command[:11], "..."]),
          flush=True)
    result = subprocess.run(command, env={**os.environ, **(env or {})}, cwd=cwd)
    if result.returncode != 0:
        raise InstallError(f"command failed (exit {result.returncode}): {' '.join(command[:4])} ...")


BUILD_STEP = re.compile(r"\[\s*(\d{1,3})%\]\s+(?:Building \S+ object |Linking \S+ \S+ )?(\S+)")


def run_with_progress(command: list[str], step: str, what: str, log: Path,
                      env: dict | None = None, every: float = 15.0) -> None:
    """Run a long build, keeping its output in ``log`` and showing one line at most every
    ``every`` seconds: what it is doing, how far CMake says it is, and the time so far
    (pip alone says nothing for minutes). On failure the log's last lines are shown."""
    started = last = time.monotonic()
    percent, current = None, "starting"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out, subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace") as process:
        for line in process.stdout:
            out.write(line)
            found = BUILD_STEP.search(line)
            if found:
                percent, current = int(found.group(1)), Path(found.group(2)).name
            now = time.monotonic()
            if now - last >= every:
                elapsed = int(now - started)
                say(step, f"{what}: {f'{percent}% ' if percent is not None else ''}{current}, "
                          f"{elapsed // 60} min {elapsed % 60:02d} s so far")
                last = now
        returncode = process.wait()
    if returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        raise InstallError(f"{what} failed (exit {returncode}); the whole output is in {log}")


def venv_python() -> Path:
    return VENV / "bin" / "python"


def pip(*args: str, env: dict | None = None) -> None:
    # The socket guard is off here on purpose: the installer must reach the index.
    run([str(venv_python()), "-m", "pip", *args],
        env={"MEDLLM_SOCKET_GUARD": "off", **(env or {}), **PIP_OFFLINE_ENV})


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def installed_state() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def is_installed(dev: bool = False) -> bool:
    """True when the venv holds what this pyproject asks for (the dev extra too if asked)."""
    state = installed_state()
    return (venv_python().exists() and state.get("fingerprint") == install_fingerprint()
            and (state.get("dev") or not dev))


def has_nvidia_gpu() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


def find_links(dirs: list[Path]) -> list[str]:
    """pip arguments for the wheel folders given (PIP_FIND_LINKS pip reads by itself)."""
    return [arg for d in dirs for arg in ("--find-links", str(d))]


def find_llama_wheel(dirs: list[Path], variant: str) -> Path | None:
    pattern = f"llama_cpp_python-{LLAMA_VERSION}-*.whl"
    env_dirs = [] if PIP_OFFLINE_ENV else [Path(e) for e in os.environ.get("PIP_FIND_LINKS", "").split()]
    for folder in [*dirs, *env_dirs, CACHE / "wheels" / variant]:
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if found:
            return found[-1]
    return None


def llama_sdist(dirs: list[Path]) -> Path:
    """The pinned sdist: from a wheel folder or bundle if there, else the cache, else
    downloaded once into the cache."""
    for folder in [*dirs, CACHE / "sdist"]:
        candidate = folder / SDIST_NAME
        if candidate.is_file():
            return candidate
    target = CACHE / "sdist"
    target.mkdir(parents=True, exist_ok=True)
    pip("download", "--no-deps", "--no-binary", ":all:", LLAMA_PIN, "-d", str(target))
    return target / SDIST_NAME


def build_llama_wheel(dirs: list[Path], variant: str) -> Path:
    """Compile the pinned llama-cpp-python once into the wheel cache."""
    if PIP_OFFLINE_ENV:
        raise InstallError(f"the bundle holds no llama-cpp-python {LLAMA_VERSION} wheel")
    sdist = llama_sdist(dirs)
    out = CACHE / "wheels" / variant
    out.mkdir(parents=True, exist_ok=True)
    cmake = LLAMA_CMAKE_CUDA if variant == "cuda" else LLAMA_CMAKE_CPU
    say("2/6", f"compiling llama.cpp ({variant}, {cmake}); tens of minutes on 2 cores, once")
    started = time.monotonic()
    # -v: CMake's "[ 45%] Building ..." lines reach run_with_progress's status line
    run_with_progress([sys.executable if not venv_python().exists() else str(venv_python()), "-m", "pip",
                       "wheel", "-v", "--no-deps", "-w", str(out), str(sdist)],
                      "2/6", "compiling llama.cpp", CACHE / "llama-build.log",
                      env={"MEDLLM_SOCKET_GUARD": "off",
                           "CMAKE_ARGS": os.environ.get("MEDLLM_LLAMA_CMAKE_ARGS", cmake),
                           "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)})
    say("2/6", f"built in {time.monotonic() - started:.0f} s, kept in {out}")
    wheel = find_llama_wheel([], variant)
    if wheel is None:
        raise InstallError(f"the llama-cpp-python build left no wheel in {out}")
    return wheel


def install_llama(dirs: list[Path], cuda: bool) -> None:
    variant = "cuda" if cuda else "cpu"
    wheel = find_llama_wheel(dirs, variant)
    if wheel is None:
        wheel = build_llama_wheel(dirs, variant)
    else:
        say("2/6", f"using built wheel {wheel}")
    pip("install", "--no-deps", str(wheel))


def hashed_requirements() -> str:
    """pyproject's [tool.medllm.hashed] as a pip requirements file (--require-hashes)."""
    hashed = project()["tool"]["medllm"]["hashed"]
    return "".join(f"{req} --hash={digest}\n" for req, digest in hashed.items())


def install_hashed(dirs: list[Path]) -> None:
    requirements = CACHE / "hashed-requirements.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text(hashed_requirements())
    pip("install", "--no-deps", "--require-hashes", *find_links(dirs), "-r", str(requirements))


def install_requirements(dirs: list[Path], dev: bool, tracking: bool = False) -> None:
    meta = project()["project"]
    requirements = list(meta["dependencies"])
    if dev:
        requirements += meta["optional-dependencies"]["dev"]
    if tracking:
        requirements += meta["optional-dependencies"]["tracking"]
    pip("install", *find_links(dirs), *requirements)


def extract_converter(dirs: list[Path], target: Path | None = None,
                      bundled: Path | None = None) -> None:
    """llama.cpp's converter from the sdist the runtime was built from (or the copy a
    bundle carries): the GGUF it writes always matches the llama.cpp that reads it.
    Never fetched from git."""
    target = target or TOOLS
    marker = target / "VERSION"
    if marker.is_file() and marker.read_text().strip() == LLAMA_VERSION:
        say("5/6", f"converter {LLAMA_VERSION} already in {target}")
        return
    staging = target.with_name(".llama.cpp-staging")
    shutil.rmtree(staging, ignore_errors=True)
    if bundled is not None:
        if (bundled / "VERSION").read_text().strip() != LLAMA_VERSION:
            raise InstallError(f"the bundle's converter in {bundled} is not {LLAMA_VERSION}")
        shutil.copytree(bundled, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        say("5/6", f"converter {LLAMA_VERSION} copied from the bundle to {target}")
        return
    sdist = llama_sdist(dirs)
    prefix = f"llama_cpp_python-{LLAMA_VERSION}/vendor/llama.cpp/"
    staging.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers()
                   if m.name.startswith(prefix)
                   and m.name[len(prefix):].split("/")[0] in CONVERTER_FILES
                   and (m.isfile() or m.isdir())]
        for member in members:
            member.name = member.name[len(prefix):]
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: refuse links and odd paths
            archive.extractall(staging, members=members, filter="data")
        else:  # older 3.11: the members were already limited to plain files and folders
            archive.extractall(staging, members=members)
    (staging / "VERSION").write_text(LLAMA_VERSION + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    say("5/6", f"converter {LLAMA_VERSION} extracted to {target}")


def check_system_packages(dev: bool) -> list[str]:
    """Install (root + apt + --dev) or name the system packages that are missing."""
    wanted = dict(SYSTEM_PACKAGES)
    if dev:
        wanted |= DEV_SYSTEM_PACKAGES
    missing = [pkg for binary, pkgs in wanted.items() if not shutil.which(binary) for pkg in pkgs]
    if not missing:
        say("6/6", "system packages present: " + ", ".join(wanted))
        return []
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if dev and os.geteuid() == 0 and shutil.which("apt-get"):
        say("6/6", "installing system packages: " + " ".join(missing))
        run(["apt-get", "update", "-qq"])
        run(command, env={"DEBIAN_FRONTEND": "noninteractive"})
        return []
    say("6/6", "MISSING system packages (OCR of scanned reports needs tesseract). "
               "Install them with:\n    sudo " + " ".join(command))
    return missing


def install_from_bundle_debs(bundle) -> None:
    """The bundle's .deb files for packages not installed here: installed as root, else
    the exact command is printed (nothing is ever fetched: apt-get --no-download)."""
    from installer.bundle_format import deb_install_command, debs_to_install

    for warning in bundle.warnings:
        say("6/6", warning)
    missing = debs_to_install(bundle.debs)
    if not missing:
        return
    command = deb_install_command(missing)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("6/6", f"installing {len(missing)} Debian packages from the bundle")
        run(command, env={"DEBIAN_FRONTEND": "noninteractive"})
    else:
        say("6/6", "tesseract (for OCR of scanned reports) is in the bundle; install it as "
                   "root with:\n    sudo " + " ".join(command))


def copy_bundled_models(bundle) -> None:
    for model in bundle.models:
        target = ROOT / "models" / model.name
        if target.exists():
            say("models", f"{target} already exists: left as it is")
            continue
        staging = target.with_name(f".{model.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(model, staging)
        staging.rename(target)
        say("models", f"base model copied to {target}")


def install(dev: bool = False, wheels: list[Path] | None = None, force: bool = False,
            bundle_path: Path | None = None, tracking: bool = False) -> None:
    if sys.version_info < (3, 11):
        raise InstallError(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    bundle = None
    stamped = installed_state().get("bundle")
    if bundle_path is None and stamped and not is_installed(dev):
        # Installed from a bundle: an update must come from a bundle too, never the index.
        if not Path(stamped).is_dir():
            raise InstallError(f"this installation came from the bundle {stamped}, which is "
                               "gone: give --bundle PATH with a bundle for this version")
        bundle_path = Path(stamped)
    if bundle_path is not None:
        from installer.bundle_format import BundleError, open_bundle

        if dev:
            raise InstallError("a bundle carries the app, not the test tools: install "
                               "without --dev (or --selftest) from a bundle")
        say("0/6", f"checking the bundle in {bundle_path} (every file's sha256)")
        try:
            bundle = open_bundle(Path(bundle_path), ROOT)
        except BundleError as error:
            raise InstallError(str(error)) from None
        PIP_OFFLINE_ENV.update({"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull,
                                "PIP_FIND_LINKS": str(bundle.wheelhouse)})
        wheels = [bundle.wheelhouse]
    given = [*(wheels or []), *([] if bundle else
                                os.environ.get("MEDLLM_WHEELS", "").split(os.pathsep))]
    dirs = [Path(w).expanduser().resolve() for w in given if w]
    dirs = [d for d in dirs if d.is_dir()]
    dev = dev or bool(installed_state().get("dev"))  # an update keeps the test extras
    tracking = tracking or bool(installed_state().get("tracking"))  # and MLflow
    converter = bundle.converter if bundle else None
    if is_installed(dev) and (installed_state().get("tracking") or not tracking) and not force:
        say("0/6", f"nothing to do: {VENV} is up to date")
        extract_converter(dirs, bundled=converter)
        if bundle:
            copy_bundled_models(bundle)
        check_system_packages(dev)
        return
    started = time.monotonic()
    if not venv_python().exists():
        say("0/6", f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    cuda = has_nvidia_gpu()
    if bundle and cuda and not bundle.manifest.get("llama", "").endswith("cuda"):
        say("1/6", "this machine has an NVIDIA GPU but the bundle was built without CUDA: "
                   "chat and export run on the CPU (build the bundle on a CUDA twin)")
    say("1/6", f"torch ({'CUDA' if cuda else 'CPU'} build)")
    index = os.environ.get("MEDLLM_TORCH_INDEX")
    pip("install", *(["--extra-index-url", index] if index and not cuda and not bundle else []),
        *find_links(dirs), TORCH_PIN)
    install_llama(dirs, cuda=cuda and bool(shutil.which("nvcc")) and not bundle)
    say("3/6", "hash-pinned packages (spaCy model, embedded model)")
    install_hashed(dirs)
    say("4/6", "the rest of pyproject.toml" + (" with the dev extra" if dev else "")
        + (" with MLflow (the tracking extra)" if tracking else ""))
    install_requirements(dirs, dev, tracking)
    extract_converter(dirs, bundled=converter)
    if bundle:
        install_from_bundle_debs(bundle)
        copy_bundled_models(bundle)
    check_system_packages(dev)
    STAMP.write_text(json.dumps({"fingerprint": install_fingerprint(), "dev": dev, "tracking": tracking,
                                 "cuda": cuda, "seconds": round(time.monotonic() - started),
                                 "bundle": str(bundle.folder) if bundle else None}))
    say("done", f"installed in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install medllm-local into .venv.")
    parser.add_argument("--dev", action="store_true", help="also what the tests need")
    parser.add_argument("--wheels", action="append", default=[], metavar="DIR",
                        help="folder of prebuilt wheels (e.g. llama-cpp-python); repeatable")
    parser.add_argument("--bundle", type=Path, metavar="PATH",
                        help="install offline from a bundle (installer/bundle.py build)")
    parser.add_argument("--force", action="store_true", help="reinstall even if up to date")
    parser.add_argument("--tracking", action="store_true",
                        help="also MLflow, for experiment tracking and its UI (`launch.py tracking`)")
    args = parser.parse_args(argv)
    try:
        install(dev=args.dev, wheels=args.wheels, force=args.force, bundle_path=args.bundle,
                tracking=args.tracking)
    except InstallError as error:
        print(f"install failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # One module whichever way this file was started, so installer.bundle sees the same
    # settings (PIP_OFFLINE_ENV) as this script.
    sys.path.insert(0, str(ROOT))
    from installer import install as installer_module

    sys.exit(installer_module.main())
