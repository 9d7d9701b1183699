"""Cached eval results are keyed by what was run, not by a folder name (issue 28, item 1)."""

from __future__ import annotations

import json
import shutil

import pytest

from sstrack_edge.evaluation import load_dataset
from sstrack_edge.evaluation.cli import main
from sstrack_edge.backends import default_model_dir

SEQ = "S1301"


def _copy_model(dst, **inference):
    shutil.copytree(default_model_dir(), dst)
    card = json.loads((dst / "model_card.json").read_text())
    card["inference"].update(inference)
    (dst / "model_card.json").write_text(json.dumps(card))
    return dst


def _auc(out, capsys, model):
    argv = [str(out.parent / "data"), "--sequences", SEQ, "--trackers", f"sstrack:{model}:onnxruntime:fp32",
            "--modes", "offline", "--out", str(out), "--threads", "1", "--no-plots", "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    (entry,) = summary["trackers"].values()
    return entry["offline"]["auc"]


def test_two_models_with_the_same_folder_name_report_their_own_numbers(sot_eval, tmp_path, capsys):
    (tmp_path / "data").symlink_to(sot_eval)
    good = _copy_model(tmp_path / "a" / "model")
    never_sure = _copy_model(tmp_path / "b" / "model", lost_threshold=1.0)  # every frame reported lost
    out = tmp_path / "data_out"
    first = _auc(out, capsys, good)
    assert first > 0.5
    assert _auc(out, capsys, never_sure) == 0.0  # not the first model's cached rows
    run = json.loads((out / "offline" / "sstrack_model_onnxruntime_fp32" / "run.json").read_text())
    assert run["settings"]["lost_threshold"] == 1.0 and run["backend"] == "onnxruntime"
    assert _auc(out, capsys, good) == pytest.approx(first)  # and back: recomputed, same numbers


def test_same_identity_resumes_without_recomputing(sot_eval, tmp_path, capsys):
    (tmp_path / "data").symlink_to(sot_eval)
    model = _copy_model(tmp_path / "m" / "model")
    out = tmp_path / "run"
    _auc(out, capsys, model)
    rows = out / "offline" / "sstrack_model_onnxruntime_fp32" / f"{SEQ}.txt"
    stamp = rows.stat().st_mtime_ns
    _auc(out, capsys, model)
    assert rows.stat().st_mtime_ns == stamp
    assert len(load_dataset(sot_eval, "sot", [SEQ])[0]) == len(rows.read_text().splitlines())
