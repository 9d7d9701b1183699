"""Choosing the lost threshold (training/export/calibrate_lost.py) from present / absent-target scores."""

from __future__ import annotations

import numpy as np
import pytest
from _train_tiny import TRAIN_CLIPS

from sstrack_edge.model_card import ModelCard
from training.export.calibrate_lost import choose, record, table


def test_largest_threshold_with_at_most_one_percent_false_lost():
    rng = np.random.default_rng(0)
    present = np.concatenate([rng.uniform(0.42, 0.95, 990), rng.uniform(0.05, 0.3, 10)])  # 1 % low scores
    scores = {"present": present, "absent": rng.uniform(0.0, 0.5, 500)}
    t = choose(scores)
    assert t == 0.4  # 0.45 would call >1 % of the present frames lost
    row = next(r for r in table(scores) if r["threshold"] == t)
    assert row["present_called_lost"] <= 0.01 and row["absent_called_lost"] == pytest.approx(0.8, abs=0.06)
    assert choose({"present": np.full(10, 0.01), "absent": np.zeros(3)}) == 0.05  # nothing qualifies: lowest
    with pytest.raises(ValueError, match="no frame"):
        choose({"present": np.array([]), "absent": np.zeros(3)})


def test_record_on_real_frames(tiny_model_dir, train_videos):
    scores = record(tiny_model_dir, train_videos, absent_frames=3, sequences=TRAIN_CLIPS)
    assert len(scores["absent"]) == 3 * len(TRAIN_CLIPS)  # each clip tracked into the next one
    assert len(scores["absent"]) >= 3 and np.all((scores["absent"] >= 0) & (scores["absent"] <= 1))
    assert np.all((scores["present"] >= 0) & (scores["present"] <= 1))


@pytest.mark.realdata
def test_held_out_calibration_uses_only_the_cards_validation_sequences(tiny_model_dir, train_videos, tmp_path, capsys):
    import json
    import shutil

    from training.export.calibrate_lost import main

    names = ["OTB_Bird2", "DTB70_MountainBike6"]  # 99 and 81 frames
    both = record(tiny_model_dir, train_videos, absent_frames=2, sequences=names)
    assert len(both["absent"]) == 2 * 2  # each held-out clip tracked into the other one
    with pytest.raises(ValueError, match="not in"):
        record(tiny_model_dir, train_videos, sequences=["no_such_clip"])
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    assert main([str(model), "--data", str(train_videos), "--held-out"]) == 2  # the card names no held-out clips
    assert "records no held-out validation sequences" in capsys.readouterr().err
    card_file = model / "model_card.json"
    card = json.loads(card_file.read_text())
    card["metrics"]["training"] = {"validation": {"root": str(train_videos), "sequences": names}}
    card_file.write_text(json.dumps(card))
    assert main([str(model), "--data", str(train_videos), "--held-out"]) == 2  # a random network finds nothing
    assert "no frame where the target was found" in capsys.readouterr().err
    assert main([str(model), "--data", str(train_videos), "--held-out", "--sequences", "OTB_Bird2"]) == 2
    assert "give --held-out or --sequences, not both" in capsys.readouterr().err


@pytest.mark.realdata
def test_held_out_calibration_of_the_default_model(train_videos, capsys):
    from sstrack_edge.backends import default_model_dir
    from training.export.calibrate_lost import main

    held_out = ModelCard.load(default_model_dir()).metrics["training"]["validation"]["sequences"]
    assert main([str(default_model_dir()), "--data", str(train_videos), "--held-out"]) == 0
    out = capsys.readouterr().out
    present = int(out.split(" present frames")[0].split()[-1])
    assert present > 100 and f"{100 * len(held_out)} absent-target frames" in out
    assert "**chosen**" in out
