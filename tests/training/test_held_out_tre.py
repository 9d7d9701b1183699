"""``training.export.held_out_tre``: TRE of a built model on the clips its card holds out, into the card."""

from __future__ import annotations

import json
import shutil

import pytest

from sstrack_edge.model_card import ModelCard
from training.export.held_out_tre import main


@pytest.mark.realdata
def test_scores_the_cards_held_out_clips_and_records_them(tiny_model_dir, sot_train, tmp_path, capsys):
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    assert main([str(model), "--data", str(sot_train)]) == 2  # the card names no held-out clips
    assert "records no held-out validation sequences" in capsys.readouterr().err
    card_file = model / "model_card.json"
    card = json.loads(card_file.read_text())
    card["metrics"]["training"] = {"validation": {"root": str(sot_train), "sequences": ["wakeboard7"]}}
    card_file.write_text(json.dumps(card))

    assert main([str(model), "--data", str(sot_train), "--starts", "3", "--update-card"]) == 0
    assert "held-out TRE-3 (3 segments)" in capsys.readouterr().out
    rec = ModelCard.load(model).metrics["held_out_tre"]
    assert rec["sequences"] == ["wakeboard7"] and rec["starts"] == 3 and rec["segments"] == 3
    assert 0.0 <= rec["auc"] <= 100.0 and rec["per_sequence"]["wakeboard7"] == pytest.approx(rec["auc"], abs=0.01)
    assert main([str(model), "--data", str(sot_train), "--starts", "0"]) == 2
    assert "starts (TRE start frames per sequence) must be a positive integer" in capsys.readouterr().err
