"""Compare torch's two ONNX exporters on the full-size (random) ViT-Tiny tracker: graph and ORT latency.

``training/export/onnx_export.py`` uses the TorchScript exporter (``dynamo=False``). This script
exports the same module with both exporters, checks they compute the same maps, counts ops, and
times them in ONNX Runtime interleaved in one process (median ms, fixed threads, spinning off).

    PYTHONPATH=. python benchmarks/compare_onnx_exporters.py [--threads 1 2] [--rounds 30] [--out /tmp/exporters]
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def export(model, path: Path, dynamo: bool, opset: int = 17) -> Path:
    import onnx
    import torch

    from training.export.onnx_export import INPUT_NAMES, ExportWrapper, example_inputs

    wrapper = ExportWrapper(model).eval()
    z, x = example_inputs(model.cfg)
    with torch.no_grad():
        kw = dict(input_names=list(INPUT_NAMES), output_names=list(wrapper.names), opset_version=opset, dynamo=dynamo)
        if dynamo:
            prog = torch.onnx.export(wrapper, (z, x), **kw)
            prog.optimize()
            prog.save(str(path))
        else:
            torch.onnx.export(wrapper, (z, x), str(path), do_constant_folding=True, **kw)
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def main(argv=None) -> int:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from training.models.ostrack import ModelConfig, build_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--out", type=Path, default=Path("/tmp/sstrack_exporters"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build_model(ModelConfig()).eval()
    paths = {}
    for name, dyn in (("torchscript", False), ("dynamo", True)):
        t0 = time.perf_counter()
        paths[name] = export(model, args.out / f"{name}.onnx", dyn)
        m = onnx.load(str(paths[name]))
        ops = collections.Counter(n.op_type for n in m.graph.node)
        opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
        print(f"{name}: export {time.perf_counter() - t0:.1f} s, opset {opset}, {sum(ops.values())} nodes, "
              f"{os.path.getsize(paths[name]) / 1e6:.1f} MB; ops {dict(sorted(ops.items()))}")
    g = np.random.default_rng(0)
    feed = {"template": g.uniform(0, 255, (1, 3, 128, 128)).astype(np.float32),
            "search": g.uniform(0, 255, (1, 3, 256, 256)).astype(np.float32)}
    with torch.no_grad():
        ref = model(torch.from_numpy(feed["template"]), torch.from_numpy(feed["search"]))
    print(f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, onnxruntime {ort.__version__}, "
          f"torch {torch.__version__}, load avg {os.getloadavg()[0]:.2f}")
    for threads in args.threads:
        sess = {}
        for name, path in paths.items():
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess[name] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        for name, s in sess.items():
            out = s.run(["score_map", "size_map", "offset_map"], feed)
            diff = max(float(np.abs(o - ref[k].numpy()).max()) for o, k in zip(out, ("score_map", "size_map", "offset_map")))
            print(f"  {name}: max |ORT - torch| over the maps = {diff:.2e}")
        times = {k: [] for k in sess}
        for _ in range(3):
            for s in sess.values():
                s.run(None, feed)
        for _ in range(args.rounds):
            for k, s in sess.items():
                t0 = time.perf_counter()
                s.run(None, feed)
                times[k].append((time.perf_counter() - t0) * 1e3)
        print(f"threads={threads}, rounds={args.rounds}: " + ", ".join(
            f"{k} median {np.median(v):.1f} ms (p90 {np.percentile(v, 90):.1f})" for k, v in times.items()))
    print(f"load avg after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
