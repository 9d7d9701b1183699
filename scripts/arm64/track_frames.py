"""Run ``sstrack_edge`` on a few frames and save everything needed to compare two machines.

The same script runs natively on x86-64 and emulated on aarch64 (scripts/arm64/emu_env.py), so
the two runs differ only by architecture. It imports nothing but ``sstrack_edge``, numpy and cv2.

For every requested variant of the model it records, into one ``.npz``:

* ``<variant>__boxes`` (N-1 x 4), ``__scores``, ``__ok``: ``Tracker`` initialised on frame 0 with
  ``--box`` and updated on frames 1..N-1 (the end-to-end result users see);
* ``<variant>__score_map`` / ``__size_map`` / ``__offset_map``: the network alone on fixed inputs
  (``--inputs``: another run's crops, so the network is compared on identical bytes);
* ``crop_template`` / ``crop_search``: this machine's ``geometry.crop_square`` of frames 0 and 1
  around ``--box`` (OpenCV's warpAffine, compared separately);
* ``frame_sha256``: hashes of the decoded frames (JPEG decoding by this machine's OpenCV);
* with ``--noise-runs K`` (the x86 reference), max over K seeded runs on the same machine:
  ``<variant>__net_noise``, how far the maps move when every network input is scaled by
  ``1 + U(-1e-6, 1e-6)`` (float-rounding-sized noise: the network is compared on identical bytes),
  and ``__box_noise`` / ``__score_noise``, how far the tracker moves when a random 0.1% of the
  crop values it feeds the network move by one uint8 step (across machines OpenCV's interpolation
  rounds a few crop pixels one step apart: 5 of the 27,648 template values, 0.018%, for the
  default model, docs/arm.md). This is the model's own sensitivity: INT8 models with static
  activation scales can jump by a quantization step, and a trained model's score moves with a
  few template pixels (docs/arm.md);
* ``meta``: JSON with machine, versions, variant backend/precision and timings.

Usage::

    python scripts/arm64/track_frames.py --model DIR --box x,y,w,h --variants fp32,openvino-fp32 \
        --out run.npz [--inputs other_run.npz] frame0.jpg frame1.jpg ...
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import sys
import time
import warnings

import cv2
import numpy as np

import sstrack_edge
from sstrack_edge import geometry


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "numpy": np.__version__, "cv2": cv2.__version__}
    for mod in ("onnxruntime", "openvino"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            out[mod] = "absent"
    return out


def _crops(card, frame0: np.ndarray, frame1: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
    cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
    t = geometry.crop_square(frame0, cx, cy, geometry.crop_side(box, card.template.factor), card.template.size)
    s = geometry.crop_square(frame1, cx, cy, geometry.crop_side(box, card.search.factor), card.search.size)
    return t, s


NOISE_REL = 1e-6  # relative input noise of the network sensitivity runs (a few float32 ulps)
CROP_NOISE_FRACTION = 1e-3  # tracker sensitivity runs: share of crop values moved by one uint8 step


def _nchw(crop: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None].astype(np.float32))


def _noisy(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (x * (1.0 + rng.uniform(-NOISE_REL, NOISE_REL, x.shape))).astype(np.float32)


def _stepped(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # network inputs are raw 0-255 pixels (normalization is in the graph), so a step is 1.0
    step = (rng.random(x.shape) < CROP_NOISE_FRACTION) * rng.choice((-1.0, 1.0), x.shape)
    return np.clip(x + step, 0, 255).astype(np.float32)


def _noisy_model(loaded, seed: int, noise=_noisy):
    """The same compiled model, but every network call sees ``noise`` on its inputs."""
    rng = np.random.default_rng(seed)

    def factory(_model):
        base = loaded.create_runner()
        return lambda t, s: base(noise(t, rng), noise(s, rng))

    return dataclasses.replace(loaded, runner_factory=factory)


def _track(model, images, box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tracker = sstrack_edge.Tracker(model)
    tracker.init(images[0], box)
    boxes, scores, oks = [], [], []
    for img in images[1:]:
        ok, b = tracker.update(img)
        boxes.append(b)
        scores.append(tracker.score)
        oks.append(ok)
    return np.array(boxes, np.float64), np.array(scores, np.float64), np.array(oks, bool)


def _maps(model, net_in) -> list[np.ndarray]:
    # copy: OpenVINO's runner returns views of buffers the next call overwrites
    return [np.array(m, dtype=np.float32) for m in model.create_runner()(*net_in)]


def run(model: str, frames: list[str], box, variants: list[str], inputs: str | None, threads: int,
        noise_runs: int = 0) -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"machine": platform.machine(), "versions": _versions(), "variants": {}}
    images = []
    for f in frames:
        img = cv2.imread(f, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read frame {f}")
        images.append(img)
    arrays["frame_sha256"] = np.array([hashlib.sha256(i.tobytes()).hexdigest() for i in images])
    card = sstrack_edge.ModelCard.load(model)
    meta["lost_threshold"] = float(card.inference["lost_threshold"])  # the Tracker's default
    arrays["crop_template"], arrays["crop_search"] = _crops(card, images[0], images[1], box)
    ref = np.load(inputs) if inputs else arrays
    net_in = (_nchw(ref["crop_template"]), _nchw(ref["crop_search"]))
    for name in variants:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sstrack_edge.UntrainedModelWarning)
            loaded = sstrack_edge.load_model(model, variant=name, threads=threads)
        t1 = time.perf_counter()
        maps = _maps(loaded, net_in)
        for key, m in zip(card.maps, maps):
            arrays[f"{name}__{key}"] = m
        boxes, scores, oks = _track(loaded, images, box)
        t2 = time.perf_counter()
        arrays[f"{name}__boxes"], arrays[f"{name}__scores"], arrays[f"{name}__ok"] = boxes, scores, oks
        if noise_runs:
            net_n = box_n = score_n = 0.0
            for seed in range(noise_runs):
                noisy = _noisy_model(loaded, seed)
                net_n = max(net_n, max(float(np.abs(a - b).max()) for a, b in zip(maps, _maps(noisy, net_in))))
                nb, ns, _ = _track(_noisy_model(loaded, seed + noise_runs, _stepped), images, box)
                box_n, score_n = max(box_n, float(np.abs(nb - boxes).max())), max(score_n, float(np.abs(ns - scores).max()))
            arrays[f"{name}__net_noise"], arrays[f"{name}__box_noise"] = np.float64(net_n), np.float64(box_n)
            arrays[f"{name}__score_noise"] = np.float64(score_n)
        meta["variants"][name] = {
            "backend": loaded.backend,
            "precision": loaded.precision,
            "load_s": round(t1 - t0, 3),
            "track_s": round(t2 - t1, 3),  # one network call + init + tracked frames
        }
    return arrays, meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="exported model directory")
    ap.add_argument("--box", required=True, help="x,y,w,h of the target in the first frame")
    ap.add_argument("--variants", required=True, help="comma-separated variant names from the model card")
    ap.add_argument("--inputs", help="npz of another run: its crops feed the network-only comparison")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--noise-runs", type=int, default=0, help="sensitivity runs (float-rounding noise on the network, one-step crop noise on the tracker)")
    ap.add_argument("--out", required=True)
    ap.add_argument("frames", nargs="+", help="at least 2 frames: init frame, then frames to track")
    a = ap.parse_args(argv)
    if len(a.frames) < 2:
        ap.error("need at least 2 frames")
    box = tuple(float(v) for v in a.box.split(","))
    t0 = time.perf_counter()
    arrays, meta = run(a.model, a.frames, box, a.variants.split(","), a.inputs, a.threads, a.noise_runs)
    meta["total_s"] = round(time.perf_counter() - t0, 3)
    meta["package_file"] = sstrack_edge.__file__
    meta["forbidden_modules"] = sorted(m for m in ("torch", "training") if m in sys.modules)
    np.savez(a.out, meta=np.array(json.dumps(meta)), **arrays)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is written and flushed: skip interpreter teardown. Under qemu the runtimes' worker
    # threads occasionally hang at exit (seen once: results written at 75 s, process alive at 300 s).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
