"""Build (once, cached) and run an emulated aarch64 Python for ARM correctness checks.

Wraps ``../shared/tools/arm64-emu/setup.sh`` (arm64 Debian CPython 3.11 + PyPI aarch64 wheels,
run under ``qemu-aarch64-static`` user-mode emulation) and adds what the project needs on top:

* the wheels are pinned to the versions installed on the host, so x86 and ARM compare the same
  releases of numpy / onnxruntime / openvino / OpenCV;
* ``opencv-contrib-python-headless`` (the distribution ``pyproject.toml`` declares) and ``tqdm`` are
  unpacked in front of setup.sh's ``opencv-python-headless``;
* one sysroot per emulated CPU model, each with a ``/proc/cpuinfo`` (and MIDR) that matches that
  CPU. setup.sh writes a Cortex-A76 cpuinfo only; with ``QEMU_CPU=cortex-a72`` onnxruntime's cpuinfo
  then trusts the A76 MIDR, dispatches SDOT int8 kernels the A72 lacks, and dies with SIGILL
  (measured: docs/arm.md). Sysroots are hard-link copies, so they cost no disk.

The environment is cached in ``<cache>/env-<key>/`` (default ``<repo>/.arm64``, gitignored; set
``SSTRACK_ARM64_CACHE`` to move it); ``key`` hashes setup.sh, the pinned versions and this file's
layout version, so changing any of them rebuilds (and removes the superseded ``env-*``). A file
lock serialises concurrent builds.

CLI::

    python scripts/arm64/emu_env.py build                       # build or reuse, print the env dir
    python scripts/arm64/emu_env.py run --cpu cortex-a72 -- -c 'import onnxruntime'
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# = sstrack_edge.paths.shared_root(), repeated: this script runs on the standard library alone
SHARED = Path(os.environ.get("SSTRACK_SHARED", REPO.parent / "shared"))
SETUP_SH = SHARED / "tools" / "arm64-emu" / "setup.sh"
LAYOUT_VERSION = "2"  # bump when what this file adds to setup.sh's output changes

# Emulated CPU models: qemu name -> fake /proc/cpuinfo identity (kernel "Features" line and MIDR).
# Feature lists are what qemu 7.2 exposes for the model (HWCAPs); MIDRs are the real parts'.
CPU_MODELS: dict[str, dict[str, str]] = {
    # Raspberry Pi 4 class: ARMv8.0, NEON only, no dot product. (qemu's model has the crypto ext.)
    "cortex-a72": {
        "features": "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid",
        "implementer": "0x41", "variant": "0x0", "part": "0xd08", "revision": "3",
        "midr": "0x00000000410fd083",
    },
    # Raspberry Pi 5 class: ARMv8.2 with dot product (SDOT/UDOT). Same identity as setup.sh writes.
    "cortex-a76": {
        "features": "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc "
        "dcpop asimddp",
        "implementer": "0x41", "variant": "0x4", "part": "0xd0b", "revision": "1",
        "midr": "0x00000000414fd0b1",
    },
}

# Host distributions whose aarch64 wheels we pin to the same version (setup.sh variable names).
PINNED = {"NUMPY_VER": "numpy", "ORT_VER": "onnxruntime", "OV_VER": "openvino"}
OPENCV_DIST = "opencv-contrib-python-headless"
EXTRA_WHEELS = ["tqdm"]  # pure-Python runtime dependencies from pyproject.toml
PIP_PLATFORMS = ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"]


class EmuUnavailable(RuntimeError):
    """This host cannot build/run the emulated environment (the reason is the message)."""


def host_unsupported_reason() -> str | None:
    """Why this host cannot run the arm64 emulation, or None if it can."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"arm64 emulation needs an x86-64 Linux host (this is {platform.system()} {platform.machine()})"
    if os.geteuid() != 0:
        return "arm64 emulation setup needs root (apt-get install qemu-user-static, apt downloads)"
    if shutil.which("apt-get") is None:
        return "arm64 emulation setup needs apt-get (Debian/Ubuntu host)"
    if not SETUP_SH.is_file():
        return f"arm64 emulation tool absent: {SETUP_SH}"
    return None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError as e:
        raise EmuUnavailable(f"{dist} is not installed on the host; cannot pin its aarch64 wheel") from e


def pinned_versions() -> dict[str, str]:
    v = {var: _version(dist) for var, dist in PINNED.items()}
    v["OPENCV_VER"] = _version(OPENCV_DIST)
    return v


def cache_root() -> Path:
    return Path(os.environ.get("SSTRACK_ARM64_CACHE", REPO / ".arm64"))


def env_key(versions: dict[str, str]) -> str:
    h = hashlib.sha256(SETUP_SH.read_bytes())
    h.update(repr(sorted(versions.items())).encode())
    h.update(repr(sorted(CPU_MODELS.items())).encode())
    h.update(f"{LAYOUT_VERSION} {EXTRA_WHEELS} {os.cpu_count()}".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class EmuEnv:
    """A built environment: ``root`` (arm64 Debian sysroot) + wheel site dirs + per-CPU sysroots."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "root" / "usr" / "bin" / "python3.11"

    def sysroot(self, cpu: str) -> Path:
        if cpu not in CPU_MODELS:
            raise ValueError(f"unknown CPU model {cpu!r}; have {sorted(CPU_MODELS)}")
        return self.path / f"root-{cpu}"

    def site_dirs(self) -> list[Path]:
        return [self.path / "site_cv", self.path / "site_extra", self.path / "site_ov", self.path / "site"]

    def command(self, cpu: str, args: list[str], pythonpath: list[str | os.PathLike] = ()) -> tuple[list[str], dict]:
        """(argv, env) that run ``python3.11 *args`` emulated as ``cpu``; ``pythonpath`` goes first."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QEMU_"))}
        env["QEMU_CPU"] = cpu
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [*pythonpath, *self.site_dirs()])
        env["PYTHONNOUSERSITE"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        argv = [shutil.which("qemu-aarch64-static") or "qemu-aarch64-static", "-L", str(self.sysroot(cpu)),
                str(self.python), *args]
        return argv, env

    def run(self, cpu: str, args: list[str], pythonpath=(), **kw) -> subprocess.CompletedProcess:
        argv, env = self.command(cpu, args, pythonpath)
        return subprocess.run(argv, env=env, **kw)


def _cpuinfo_text(cpu: str, ncpu: int) -> str:
    c = CPU_MODELS[cpu]
    block = (
        "processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: {features}\nCPU implementer\t: {implementer}\n"
        "CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {revision}\n\n"
    )
    return "".join(block.format(i=i, **c) for i in range(ncpu))


def _make_cpu_sysroot(env_dir: Path, cpu: str) -> None:
    """Hard-link copy of the sysroot with this CPU's cpuinfo/MIDR (files replaced, not edited,
    so the shared inodes of the original stay untouched)."""
    dst = env_dir / f"root-{cpu}"
    if dst.exists():
        shutil.rmtree(dst)
    subprocess.run(["cp", "-al", str(env_dir / "root"), str(dst)], check=True)
    ncpu = os.cpu_count() or 1
    cpuinfo = dst / "proc" / "cpuinfo"
    cpuinfo.unlink(missing_ok=True)
    cpuinfo.write_text(_cpuinfo_text(cpu, ncpu))
    cpudir = dst / "sys" / "devices" / "system" / "cpu"
    for i in range(ncpu):
        midr = cpudir / f"cpu{i}" / "regs" / "identification" / "midr_el1"
        midr.parent.mkdir(parents=True, exist_ok=True)
        midr.unlink(missing_ok=True)
        midr.write_text(CPU_MODELS[cpu]["midr"] + "\n")


def _pip_download_unpack(dists: list[str], dest: Path, scratch: Path, log) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    plat = [a for p in PIP_PLATFORMS for a in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", *plat, "--python-version", "3.11",
         "--implementation", "cp", "--no-deps", "-d", str(scratch), *dists],
        check=True, stdout=log, stderr=subprocess.STDOUT,
    )
    dest.mkdir(parents=True, exist_ok=True)
    for whl in sorted(scratch.glob("*.whl")):
        subprocess.run(["unzip", "-q", "-o", str(whl), "-d", str(dest)], check=True)


def _build(env_dir: Path, versions: dict[str, str], log) -> None:
    if env_dir.exists():
        shutil.rmtree(env_dir)
    env = dict(os.environ, **versions)
    # setup.sh calls `pip`: make it the host interpreter's pip (the venv's when run from pytest).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    subprocess.run(["bash", str(SETUP_SH), str(env_dir)], env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    _pip_download_unpack([f"{OPENCV_DIST}=={versions['OPENCV_VER']}"], env_dir / "site_cv", env_dir / "wheels_cv", log)
    _pip_download_unpack(EXTRA_WHEELS, env_dir / "site_extra", env_dir / "wheels_extra", log)
    for cpu in CPU_MODELS:
        _make_cpu_sysroot(env_dir, cpu)
    # downloads and private apt state are not needed to run; drop them (~130 MB)
    for junk in ("debs", "cache", "lists", "wheels", "wheels_ov", "wheels_cv", "wheels_extra"):
        shutil.rmtree(env_dir / junk, ignore_errors=True)


def ensure_env(cache: Path | None = None, log=None) -> EmuEnv:
    """Return the cached environment, building it first if needed (raises EmuUnavailable on hosts
    that cannot; a failing build raises CalledProcessError)."""
    reason = host_unsupported_reason()
    if reason:
        raise EmuUnavailable(reason)
    versions = pinned_versions()
    cache = Path(cache) if cache is not None else cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    env_dir = cache / f"env-{env_key(versions)}"
    ready = env_dir / "READY"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.is_file():
            _build(env_dir, versions, log if log is not None else subprocess.DEVNULL)
            ready.write_text("".join(f"{k}={v}\n" for k, v in sorted(versions.items())))
            for old in cache.glob("env-*"):  # environments of other versions (~460 MB each)
                if old != env_dir and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
        if shutil.which("qemu-aarch64-static") is None:  # cache reused on a fresh host
            subprocess.run(["apt-get", "install", "-y", "-qq", "qemu-user-static"], check=True,
                           stdout=log if log is not None else subprocess.DEVNULL)
    return EmuEnv(env_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build or reuse the cached environment; print its directory")
    r = sub.add_parser("run", help="run the emulated python3.11 with the given arguments")
    r.add_argument("--cpu", default="cortex-a76", choices=sorted(CPU_MODELS))
    r.add_argument("--pythonpath", action="append", default=[], help="extra dir put first on PYTHONPATH")
    r.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    env = ensure_env(log=sys.stderr)
    if a.cmd == "build":
        print(env.path)
        return 0
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    return env.run(a.cpu, args, pythonpath=a.pythonpath).returncode


if __name__ == "__main__":
    sys.exit(main())
