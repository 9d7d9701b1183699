"""``training.export.held_out_tre``: TRE of a built model on the clips its card holds out, into the card."""

from __future__ import annotations

import json
import shutil

import pytest

from sstrack_edge.model_card import ModelCard
from training.export.held_out_tre import main, resolve_clip_names

CLIP = "UAV123_10fps_wakeboard7"


@pytest.mark.realdata
def test_scores_the_cards_held_out_clips_and_records_them(tiny_model_dir, train_videos, tmp_path, capsys):
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    assert main([str(model), "--data", str(train_videos)]) == 2  # the card names no held-out clips
    assert "records no held-out validation sequences" in capsys.readouterr().err
    card_file = model / "model_card.json"
    card = json.loads(card_file.read_text())
    card["metrics"]["training"] = {"validation": {"root": str(train_videos), "sequences": [CLIP]}}
    card_file.write_text(json.dumps(card))

    assert main([str(model), "--data", str(train_videos), "--starts", "3", "--update-card"]) == 0
    assert "held-out TRE-3 (3 segments)" in capsys.readouterr().out
    rec = ModelCard.load(model).metrics["held_out_tre"]
    assert rec["sequences"] == [CLIP] and rec["starts"] == 3 and rec["segments"] == 3
    assert 0.0 <= rec["auc"] <= 100.0 and rec["per_sequence"][CLIP] == pytest.approx(rec["auc"], abs=0.01)
    assert main([str(model), "--data", str(train_videos), "--sequences", "UAVDT_S0310", "--starts", "2"]) == 0
    assert "held-out TRE-2 (2 segments)" in capsys.readouterr().out  # named clips win over the card's
    assert main([str(model), "--data", str(train_videos), "--starts", "0"]) == 2
    assert "starts (TRE start frames per sequence) must be a positive integer" in capsys.readouterr().err


def test_older_cards_clip_names_resolve_to_the_train_videos_clips(train_videos, sot_folder, tmp_path):
    """Cards written before the move to train_videos name clips without the dataset prefix."""
    assert resolve_clip_names(train_videos, ["wakeboard7", "building5", CLIP]) == [
        CLIP, "UAV123_10fps_building5", CLIP]
    assert resolve_clip_names(sot_folder, ["Bird2", "group2"]) == ["OTB_Bird2", "UAV123_10fps_group2"]
    with pytest.raises(ValueError, match="'wakeboard' is not in .*no clip has that name"):
        resolve_clip_names(train_videos, ["wakeboard"])
    (tmp_path / "A_x").mkdir()
    (tmp_path / "B_x").mkdir()
    for d in ("A_x", "B_x"):
        (tmp_path / d / "groundtruth.txt").write_text("1,1,4,4\n")
    with pytest.raises(ValueError, match=r"several clips end in _x: \['A_x', 'B_x'\]"):
        resolve_clip_names(tmp_path, ["x"])
    with pytest.raises(FileNotFoundError, match="not a folder"):
        resolve_clip_names(tmp_path / "nope", ["x"])
