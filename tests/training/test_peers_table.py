"""``training.export.peers_table``: a side-by-side eval run of a model and a peer, into its card."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest

from sstrack_edge.evaluation.cli import main as eval_main
from sstrack_edge.model_card import ModelCard
from training.export.peers_table import main


@pytest.mark.realdata
def test_records_the_run_with_machine_and_opencv_version(tiny_model_dir, train_videos, tmp_path, capsys):
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    run = tmp_path / "run"
    assert eval_main([str(train_videos), "--sequences", "UAV123_10fps_wakeboard7", "--trackers",
                      f"sstrack:{model},opencv:kcf", "--modes", "offline", "--threads", "1", "--out", str(run),
                      "--no-plots", "--quiet"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    capsys.readouterr()

    assert main([str(model), str(run / "summary.json")]) == 0
    table = ModelCard.load(model).metrics["eval_vs_peers"]
    assert table["opencv"] == cv2.__version__ and table["threads"] == 1 and table["cpu"]
    assert set(table["trackers"]) == {"sstrack:<this model>", "opencv:kcf"}
    for name, raw in summary["trackers"].items():
        row = table["trackers"][name.replace(str(model), "<this model>")]["offline"]
        assert row["auc"] == pytest.approx(100 * raw["offline"]["auc"], abs=0.05)
        assert row["processed"] == 1.0 and row["fps"] > 0

    assert main([str(tiny_model_dir), str(run / "summary.json")]) == 2  # the run is of another folder
    assert "has no tracker on the model" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert main([str(model), str(tmp_path / "bad.json")]) == 2
    assert "not an sstrack-edge eval summary.json" in capsys.readouterr().err
