"""The presence branch (docs/presence.md): built beside the box head, started from the ctr branch,
trained alone with everything else frozen, exported as a fourth output that the runtime reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _train_tiny import tiny_config
from sstrack_edge import MultiTracker, Tracker
from sstrack_edge.evaluation.datasets import load_dataset
from training.export.package import export_model
from training.losses import TrackingLoss
from training.models.checkpoints import load_pretrained, read_checkpoint
from training.models.ostrack import ModelConfig, build_model
from training.models.vittrack_onnx import read_vittrack_onnx
from training.torch_runner import torch_tracker
from training.trainer import Trainer

VITTRACK = "object_tracking_vittrack_2023sep.onnx"
CLIP = "UAV123_10fps_wakeboard3"


@pytest.fixture(scope="module", params=[False, True], ids=["branch", "block"])
def presence_vittrack(vittrack_dir, request):
    """VitTrack with a presence branch (and, for "block", the branch's own copy of the last block);
    its starting point (the ctr branch) is shifted down so that presence and score differ and the
    tests can tell which one the tracker reads; the block copy is changed too, so that the branch
    reads other tokens than the box head."""
    arch, state = read_vittrack_onnx(vittrack_dir / VITTRACK)
    model = build_model(ModelConfig.from_dict({**arch, "presence_head": True, "presence_block": request.param}))
    report = load_pretrained(model, {"model": state}, kind="ostrack", min_loaded_fraction=1.0)
    with torch.no_grad():
        model.box_head.conv5_presence.bias -= 2.0
        if request.param:
            model.backbone.block_presence.mlp.fc2.weight *= 1.5
    return model.eval(), report


@pytest.fixture(scope="module")
def clip(train_videos):
    seq = load_dataset(train_videos, "videos", [CLIP])[0]
    return seq, [seq.read_frame(i) for i in range(40)]


def test_presence_branch_starts_as_the_ctr_branch(vittrack_dir, clip):
    arch, state = read_vittrack_onnx(vittrack_dir / VITTRACK)
    model = build_model(ModelConfig.from_dict({**arch, "presence_head": True})).eval()
    report = load_pretrained(model, {"model": state}, kind="ostrack", min_loaded_fraction=1.0)
    assert len(report.presence_from_ctr) == sum("_presence." in k for k in model.state_dict()) == 30
    assert not report.missing and report.to_dict()["presence_from_ctr"] == 30
    tracker = torch_tracker(model)
    seq, frames = clip
    tracker.init(frames[0], seq.init_box)
    tracker._prepare(frames[1], tracker._search)
    with torch.no_grad():
        out = model(torch.from_numpy(tracker._template), torch.from_numpy(tracker._search))
    assert torch.equal(out["presence_map"], out["score_map"])
    assert float(out["score_map"].max()) > 0.3  # a real crop of the target, not an empty map


def test_presence_block_starts_as_the_last_block(vittrack_dir, clip):
    """``presence_block``: a checkpoint without it fills the copy from the last block and the final
    norm, so the presence map starts equal to the score map; the box outputs never depend on it."""
    arch, state = read_vittrack_onnx(vittrack_dir / VITTRACK)
    model = build_model(ModelConfig.from_dict({**arch, "presence_head": True, "presence_block": True})).eval()
    report = load_pretrained(model, {"model": state}, kind="ostrack", min_loaded_fraction=1.0)
    assert len(report.presence_from_last_block) == 14 and len(report.presence_from_ctr) == 30
    assert not report.missing and report.backbone_fraction == 1.0
    last = model.backbone.blocks[-1].state_dict()
    assert all(torch.equal(v, last[k]) for k, v in model.backbone.block_presence.state_dict().items())
    seq, frames = clip
    tracker = torch_tracker(model)
    tracker.init(frames[0], seq.init_box)
    tracker._prepare(frames[1], tracker._search)
    inputs = torch.from_numpy(tracker._template), torch.from_numpy(tracker._search)
    with torch.no_grad():
        out = model(*inputs)
        assert torch.equal(out["presence_map"], out["score_map"]) and float(out["score_map"].max()) > 0.3
        model.backbone.block_presence.mlp.fc2.weight *= 1.5
        changed = model(*inputs)
    assert not torch.allclose(changed["presence_map"], out["presence_map"])
    for k in ("score_map", "size_map", "offset_map"):
        assert torch.equal(changed[k], out[k])


def test_presence_block_needs_the_presence_branch():
    with pytest.raises(ValueError, match="presence_block needs presence_head"):
        ModelConfig(presence_block=True)


def test_tracker_reads_presence_at_the_chosen_cell(presence_vittrack, clip):
    model, _ = presence_vittrack
    seq, frames = clip
    tracker = torch_tracker(model, {"lost_threshold": 0.0})
    assert tracker.card.maps[-1] == "presence_map" and "presence_map" in tracker.card.outputs["semantics"]
    tracker.init(frames[0], seq.init_box)
    for frame in frames[1:10]:
        tracker._prepare(frame, tracker._search)
        with torch.no_grad():
            out = model(torch.from_numpy(tracker._template), torch.from_numpy(tracker._search))
        score, presence = out["score_map"][0, 0].numpy(), out["presence_map"][0, 0].numpy()
        idx = int(np.argmax(score * tracker._hann))
        tracker.update(frame)
        assert tracker.score == pytest.approx(float(presence.flat[idx]), abs=1e-6)
        assert tracker.score < float(score.flat[idx]) - 0.05  # the shifted presence, not the score


def test_presence_threshold_decides_lost(presence_vittrack, clip):
    model, _ = presence_vittrack
    seq, frames = clip
    scores = []
    tracker = torch_tracker(model, {"lost_threshold": 0.0})
    tracker.init(frames[0], seq.init_box)
    for frame in frames[1:]:
        tracker.update(frame)
        scores.append(tracker.score)
    threshold = float(np.median(scores))
    tracker = torch_tracker(model, {"lost_threshold": threshold, "lost_patience": 100})
    tracker.init(frames[0], seq.init_box)
    lost = []
    for frame in frames[1:]:
        lost.append(not tracker.update(frame)[0])
    assert lost == [s < threshold for s in scores]


def test_export_runs_the_presence_map_on_every_backend(presence_vittrack, clip, tmp_path):
    """ONNX Runtime, OpenVINO and torch give the same boxes and presence on a real clip, and a
    MultiTracker of the exported file gives what separate Trackers give."""
    model, _ = presence_vittrack
    out = tmp_path / "m"
    export_model(model, out, name="presence", trained=True, openvino=True)
    card = json.loads((out / "model_card.json").read_text())
    assert card["outputs"]["presence_map"] == "presence_map"
    assert card["architecture"]["presence_head"] is True
    seq, frames = clip
    trackers = [torch_tracker(model), Tracker(str(out), backend="onnxruntime", precision="fp32"),
                Tracker(str(out), backend="openvino", precision="fp32")]
    multi = MultiTracker(str(out), backend="onnxruntime", precision="fp32")
    for t in trackers:
        t.init(frames[0], seq.init_box)
    multi.add(frames[0], seq.init_box)
    multi.add(frames[0], (seq.init_box[0] + 20, seq.init_box[1], seq.init_box[2], seq.init_box[3]))
    single = Tracker(str(out), backend="onnxruntime", precision="fp32")
    single.init(frames[0], seq.init_box)
    for frame in frames[1:]:
        results = [t.update(frame) for t in trackers]
        for (ok, box), t in zip(results[1:], trackers[1:]):
            assert ok == results[0][0]
            np.testing.assert_allclose(box, results[0][1], atol=0.05)
            assert abs(t.score - trackers[0].score) < 1e-3
        single.update(frame)
        first = multi.update(frame)[0]
        assert first.bbox == single.result.bbox and first.score == single.result.score


def test_presence_loss_targets_the_heatmap_and_zero_for_negatives():
    f = 8
    heat = torch.zeros(2, f, f)
    heat[0, 3, 4] = 1.0
    good = torch.full((2, 1, f, f), 1e-3)
    good[0, 0, 3, 4] = 0.99
    outputs = {"pred_boxes": torch.tensor([[0.5, 0.5, 0.2, 0.2]] * 2), "score_map": good,
               "presence_map": good.clone()}
    box = torch.tensor([[0.4, 0.4, 0.2, 0.2]] * 2)
    terms = TrackingLoss().per_sample(outputs, box, heat, positive=torch.tensor([1.0, 0.0]))
    assert terms["presence"].shape == (2,) and float(terms["presence"].max()) < 1e-3
    bad = dict(outputs, presence_map=torch.full((2, 1, f, f), 0.5))  # unsure everywhere
    worse = TrackingLoss().per_sample(bad, box, heat, positive=torch.tensor([1.0, 0.0]))
    assert bool((worse["presence"] > 0.1).all())
    assert torch.allclose(worse["total"] - terms["total"], worse["presence"] - terms["presence"])


@pytest.mark.realdata
@pytest.mark.parametrize("block", [False, True], ids=["branch", "block"])
def test_training_only_the_presence_branch_leaves_the_tracker_unchanged(train_videos, stills_dir, tmp_path, block):
    torch.set_num_threads(1)
    cfg = tiny_config(train_videos, stills_dir, epochs=1, model={"presence_head": True, "presence_block": block},
                      data={"samples_per_epoch": 32, "negative_prob": 0.5},
                      optim={"batch_size": 8, "lr": 1e-2, "trainable_keys": ["_presence."], "backbone_keys": []})
    trainer = Trainer(cfg, tmp_path)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    rec = trainer.fit()[-1]
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("_presence." in k for k in changed), sorted(changed)[:5]
    assert any(k.startswith("backbone.block_presence.") for k in changed) == block
    # BatchNorm statistics of the frozen branches did not move; the presence branch's did
    assert any(k.endswith("running_mean") for k in changed)
    assert rec["presence"] > 0 and rec["negative_samples"] > 0
    saved = read_checkpoint(tmp_path / "last.pt")
    assert saved["model_config"]["presence_head"] is True
    assert saved["model_config"]["presence_block"] is block


def test_trainable_keys_that_match_nothing_are_refused(train_videos, stills_dir, tmp_path):
    cfg = tiny_config(train_videos, stills_dir, optim={"trainable_keys": ["_presense."]})
    with pytest.raises(ValueError, match="trainable_keys"):
        Trainer(cfg, tmp_path)
    with pytest.raises(ValueError, match="optim.trainable_keys must be a list"):  # a bare string
        tiny_config(train_videos, stills_dir, optim={"trainable_keys": "_presence."})
