"""aarch64 correctness of the runtime: the pure-Python ``sstrack_edge`` package on PyPI's aarch64
wheels (numpy, onnxruntime, openvino, OpenCV), emulated by qemu as Cortex-A72 and Cortex-A76,
must give the same boxes and scores as x86-64 on real frames, for every variant the model card
declares for aarch64; each runtime is compared with itself (tolerances: scripts/arm64/compare.py,
reasons: docs/arm.md). Skips on hosts that cannot emulate (not x86-64 Linux, not root, no apt-get,
no ../shared/tools/arm64-emu). First run builds the environment (~30 s, cached in .arm64/).
"""

from __future__ import annotations

import pytest
from arm_scripts import CPUS, compare

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def test_card_declares_ort_fp32_for_aarch64(arm_runs):
    """ONNX Runtime fp32 is the portable baseline: an ARM-capable model must declare it."""
    meta = compare.meta_of(arm_runs.ref)["variants"]
    assert any(v["backend"] == "onnxruntime" and v["precision"] == "fp32" for v in meta.values()), meta


@pytest.mark.parametrize("cpu", CPUS)
def test_emulated_run_is_aarch64_runtime_without_torch(arm_runs, cpu):
    ref, meta = compare.meta_of(arm_runs.ref), compare.meta_of(arm_runs.emulated[cpu])
    assert ref["machine"] == "x86_64" and meta["machine"] == "aarch64"
    assert meta["package_file"].startswith(str(arm_runs.site)), meta["package_file"]
    assert meta["forbidden_modules"] == []
    # Same releases on both sides, so a difference is the architecture's, not a version's.
    for lib in ("numpy", "onnxruntime", "openvino", "cv2"):
        assert meta["versions"][lib] == ref["versions"][lib], lib
    assert sorted(meta["variants"]) == sorted(arm_runs.variants)


@pytest.mark.parametrize("cpu", CPUS)
def test_crops_match_x86(arm_runs, cpu):
    """JPEG decoding + one cv2.warpAffine crop: at most one uint8 step apart."""
    d = compare.diffs(arm_runs.ref, arm_runs.emulated[cpu])
    assert d["crop_template_max_step"] <= 1 and d["crop_search_max_step"] <= 1, d


@pytest.mark.parametrize("cpu", CPUS)
def test_network_and_tracker_match_x86(arm_runs, cpu):
    """Per variant: network maps on identical input bytes, then boxes / scores / ok flags of
    Tracker on the real frames, within the variant's tolerance."""
    d = compare.diffs(arm_runs.ref, arm_runs.emulated[cpu])
    bad = compare.violations(d)
    assert not bad, f"{cpu} vs x86-64:\n" + "\n".join(bad + compare.table_rows(cpu, d))
