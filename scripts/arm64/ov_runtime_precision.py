"""Print the precision OpenVINO's CPU plugin actually runs each weighted layer in.

Counts ``(layerType, runtimePrecision)`` of the Convolution / FullyConnected / MatMul nodes of the
compiled model (``get_runtime_model()``). Run it natively and emulated to see how an INT8 (NNCF)
model is executed on each architecture::

    python scripts/arm64/ov_runtime_precision.py MODEL.xml
    python scripts/arm64/emu_env.py run --cpu cortex-a72 -- scripts/arm64/ov_runtime_precision.py MODEL.xml
"""

from __future__ import annotations

import collections
import platform
import sys

import openvino as ov

WEIGHTED = ("Convolution", "FullyConnected", "MatMul")


def runtime_precisions(xml: str) -> dict[tuple[str, str], int]:
    core = ov.Core()
    compiled = core.compile_model(core.read_model(xml), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": "1"})
    counts: collections.Counter = collections.Counter()
    for op in compiled.get_runtime_model().get_ordered_ops():
        rt = op.get_rt_info()
        kind = rt["layerType"].astype(str) if "layerType" in rt else op.get_type_name()
        prec = rt["runtimePrecision"].astype(str) if "runtimePrecision" in rt else "?"
        if kind in WEIGHTED:
            counts[(kind, prec)] += 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(platform.machine(), runtime_precisions(sys.argv[1]))
