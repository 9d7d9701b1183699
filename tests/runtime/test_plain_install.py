"""What a plain ``pip install .`` (no extras, no torch) does with each command (issue 28, item 4).

The monkeypatched tests run everywhere; the subprocess ones run in the torch-free venv CI builds
(scripts/test.sh) and check the real thing there."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
import subprocess

import pytest

from sstrack_edge.evaluation.cli import main as eval_main

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _hide(monkeypatch, module, *names):
    real = importlib.util.find_spec
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda n, *a: None if n in names else real(n, *a))


def test_eval_prints_results_then_skips_plots_without_matplotlib(sot_eval, tmp_path, monkeypatch, capsys):
    import sstrack_edge.evaluation.cli as cli

    _hide(monkeypatch, cli, "matplotlib")
    out = tmp_path / "run"
    argv = [str(sot_eval), "--sequences", "S1301", "--trackers", "opencv:kcf", "--modes", "offline",
            "--out", str(out), "--quiet"]
    assert eval_main(argv) == 0
    std = capsys.readouterr()
    assert "opencv:kcf" in std.out and json.loads((out / "summary.json").read_text())["trackers"]
    assert "plots skipped: matplotlib is not installed" in std.err and "sstrack-edge[eval]" in std.err
    assert not (out / "plots").exists()


@pytest.mark.parametrize("prog", ["training.train", "training.export.cli"])
def test_training_commands_name_the_missing_extra(prog, monkeypatch, capsys):
    import importlib

    import training.extras as extras

    _hide(monkeypatch, extras, "yaml", "torch")
    main = importlib.import_module(prog).main
    assert main(["whatever.yaml"]) == 2
    err = capsys.readouterr().err
    assert "missing: torch, pyyaml" in err and "sstrack-edge[train]" in err and "Traceback" not in err


@pytest.mark.skipif(HAS_TORCH, reason="checks the torch-free install; this venv has torch (CI runs it in the plain venv)")
@pytest.mark.parametrize("cmd", ["sstrack-train", "sstrack-export"])
def test_plain_install_training_commands_exit_2_with_a_hint(cmd):
    exe = Path(sys.executable).parent / cmd  # the venv's console script
    assert exe.is_file(), f"{cmd} was not installed by pip install ."
    r = subprocess.run([exe, "cfg.yaml"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "sstrack-edge[train]" in r.stderr and "Traceback" not in r.stderr, r.stderr
