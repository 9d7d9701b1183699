"""Fixtures for the aarch64-under-qemu check (docs/arm.md).

Session-scoped, in this order: the emulated environment (built once, cached in ``.arm64/``), the
runtime package copied into a fresh site dir, the model and real frames, one x86-64 reference run
and the emulated runs (one per CPU model, started concurrently). The tests only compare.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from arm_scripts import CPUS, SCRIPTS, compare, emu_env  # tests/arm is on sys.path (rootdir-style test dirs)

REPO = Path(__file__).resolve().parents[2]
N_FRAMES = 4  # init frame + 3 tracked frames (each emulated inference of the tiny net is ~0.3 s)
# Both emulated runs together; the tiny network needs ~70-105 s on a loaded 2-core host. A full
# ViT-Tiny (SSTRACK_ARM_MODEL) is ~12 s per emulated inference: raise it with SSTRACK_ARM_TIMEOUT_S.
EMU_TIMEOUT_S = float(os.environ.get("SSTRACK_ARM_TIMEOUT_S", 300))
NOISE_RUNS = 8  # x86-only sensitivity runs that scale the tolerances (scripts/arm64/compare.py)


@dataclass
class ArmRuns:
    variants: list[str]
    ref: dict  # x86-64 run (npz contents)
    emulated: dict  # cpu -> npz contents
    site: Path  # where the runtime package was copied
    seconds: dict = field(default_factory=dict)  # stage -> wall seconds


@pytest.fixture(scope="session")
def arm_emu():
    """The emulated aarch64 environment; skips on hosts that cannot run it (reason given)."""
    reason = emu_env.host_unsupported_reason()
    if reason:
        pytest.skip(reason)
    cache = emu_env.cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log_path = cache / "build.log"
    with open(log_path, "a") as log:
        try:
            env = emu_env.ensure_env(log=log)
        except subprocess.CalledProcessError as e:
            tail = log_path.read_text()[-3000:]
            pytest.fail(f"building the emulated aarch64 environment failed ({e}); end of {log_path}:\n{tail}")
    return env, time.perf_counter() - t0


@pytest.fixture(scope="session")
def arm_site(tmp_path_factory) -> Path:
    """The runtime installed as a plain site dir: ``sstrack_edge/`` plus ``models/`` at
    ``sstrack_edge/models`` (the mapping pyproject.toml installs), nothing else from the repo."""
    site = tmp_path_factory.mktemp("arm_site")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "sstrack_edge", site / "sstrack_edge", ignore=ignore)
    shutil.copytree(REPO / "models", site / "sstrack_edge" / "models", ignore=ignore, dirs_exist_ok=True)
    return site


ARM_ARCH = dict(depth=2, embed_dim=64, num_heads=2, head_channels=32)  # tests/conftest.py's TINY_ARCH
ARM_QUANTIZE = ("int8-dynamic", "int8-static")  # the exporter's ORT INT8 variants (declared for aarch64)
CALIBRATION_PAIRS = 4
CALIBRATION_CLIPS = ["OTB_Bird2", "DTB70_MountainBike6", "UAVDT_S0310", "UAV123_10fps_building4"]  # one pair each


@pytest.fixture(scope="session")
def arm_model_dir(request, tmp_path_factory) -> Path:
    """The exported model to check: ``$SSTRACK_ARM_MODEL`` (any exported model directory, e.g. a
    trained one), or else the tiny random test network exported with its ORT INT8 variants too
    (static calibration on a few real training crops). Which variants run on ARM is the card's call
    (``platforms``), not this fixture's."""
    path = os.environ.get("SSTRACK_ARM_MODEL")
    if path:
        return Path(path)
    torch = pytest.importorskip("torch")
    from training.export.calibration import CalibrationSet
    from training.export.package import export_model
    from training.models.ostrack import ModelConfig, build_model

    cfg = ModelConfig(**ARM_ARCH)
    calibration = CalibrationSet.from_config(request.getfixturevalue("train_videos"), cfg, num_pairs=CALIBRATION_PAIRS,
                                             sequences=CALIBRATION_CLIPS)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    out = tmp_path_factory.mktemp("arm_model")
    export_model(model, out, name="tiny-random-arm-test", trained=False, openvino=True,
                 quantize=ARM_QUANTIZE, calibration=calibration)
    return out


@pytest.fixture(scope="session")
def arm_frames(sot_eval) -> tuple[list[Path], tuple[float, ...]]:
    """First N_FRAMES frames of the first eval sequence (sorted by name) and its first GT box."""
    for seq in sorted(p for p in sot_eval.iterdir() if p.is_dir()):
        frames = sorted((seq / "img").glob("*.jpg"))[:N_FRAMES]
        gt = seq / "groundtruth.txt"
        if len(frames) == N_FRAMES and gt.is_file():
            first = gt.read_text().splitlines()[0].replace("\t", ",").replace(" ", ",")
            box = tuple(float(v) for v in first.split(",") if v)
            return frames, box
    pytest.fail(f"no sequence with {N_FRAMES} frames and a groundtruth.txt under {sot_eval}")


def arm_variants_of(model_dir: Path) -> list[str]:
    card = json.loads((model_dir / "model_card.json").read_text())
    return [v["name"] for v in card["variants"] if "aarch64" in v.get("platforms", [])]


def _track_args(model_dir, frames, box, variants, out, inputs=None) -> list[str]:
    args = [str(SCRIPTS / "track_frames.py"), "--model", str(model_dir), "--box", ",".join(map(str, box)),
            "--variants", ",".join(variants), "--out", str(out)]
    if inputs is not None:
        args += ["--inputs", str(inputs)]
    return args + [str(f) for f in frames]


def _load_npz(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def arm_runs(arm_emu, arm_site, arm_model_dir, arm_frames, tmp_path_factory) -> ArmRuns:
    env, build_s = arm_emu
    frames, box = arm_frames
    variants = arm_variants_of(arm_model_dir)
    if not variants:
        pytest.fail(f"model card in {arm_model_dir} declares no variant for aarch64 (platforms field)")
    out = tmp_path_factory.mktemp("arm_runs")
    seconds = {"env (build or cache hit)": build_s}

    t0 = time.perf_counter()
    ref_path = out / "x86_64.npz"
    host_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    host_env["PYTHONPATH"] = str(arm_site)
    args = _track_args(arm_model_dir, frames, box, variants, ref_path) + ["--noise-runs", str(NOISE_RUNS)]
    r = subprocess.run([sys.executable, *args],
                       env=host_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"x86-64 reference run failed:\n{r.stderr[-4000:]}"
    seconds["x86-64 reference"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    procs = {}
    for cpu in CPUS:
        argv, penv = env.command(cpu, _track_args(arm_model_dir, frames, box, variants, out / f"{cpu}.npz", ref_path),
                                 pythonpath=[arm_site])
        with open(out / f"{cpu}.log", "w") as log:  # files, not pipes: two children never block on output
            procs[cpu] = subprocess.Popen(argv, env=penv, stdout=log, stderr=subprocess.STDOUT)
    emulated, errors = {}, []
    deadline = time.monotonic() + EMU_TIMEOUT_S
    for cpu, p in procs.items():
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            errors.append(f"{cpu}: timed out after {EMU_TIMEOUT_S:g} s (SSTRACK_ARM_TIMEOUT_S)")
            continue
        if p.returncode != 0:
            errors.append(f"{cpu}: exit code {p.returncode}\n{(out / f'{cpu}.log').read_text()[-4000:]}")
        else:
            emulated[cpu] = _load_npz(out / f"{cpu}.npz")
    seconds[f"emulated aarch64 ({', '.join(CPUS)} concurrently)"] = time.perf_counter() - t0
    assert not errors, "emulated aarch64 run failed:\n" + "\n".join(errors)
    runs = ArmRuns(variants=variants, ref=_load_npz(ref_path), emulated=emulated, site=arm_site, seconds=seconds)
    _write_report(runs, emu_env.cache_root() / "last-report.md")
    return runs


def _write_report(runs: ArmRuns, path: Path) -> None:
    lines = ["| CPU model | variant | backend/precision | network max abs diff | box max diff (px) | "
             "score max abs diff | x86 self-noise (net / box / score) | tolerance (net / box / score) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    extra = []
    for cpu, run in runs.emulated.items():
        d = compare.diffs(runs.ref, run)
        lines += compare.table_rows(cpu, d)
        extra.append(f"- {cpu}: decoded frames identical: {d['frames_identical']}; crop max diff (uint8 steps): "
                     f"template {d['crop_template_max_step']}, search {d['crop_search_max_step']}; "
                     f"per-variant seconds: {compare.meta_of(run)['variants']}")
    extra += [f"- {stage}: {s:.1f} s" for stage, s in runs.seconds.items()]
    path.write_text("\n".join(lines + [""] + extra) + "\n")
