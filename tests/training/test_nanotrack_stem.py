"""The NanoTrack v2 stem (training/models/nanotrack_stem.py, docs/conv-stem.md).

The graph rebuilt from the real ONNX file against ONNX Runtime on the same file, on a real crop;
batch and input-size independence; loud failures on bad files and settings; frozen layers; export
parity (ONNX Runtime, OpenVINO, dynamic INT8); the candidate config's parameter groups; checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.models.mobilenet_stem import StemWeightsError
from training.models.nanotrack_stem import IDENTITY_NORM, NanoTrackStem
from training.models.ostrack import ModelConfig, build_model

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(depth=1, embed_dim=32, num_heads=2, head_channels=16)
BACKBONE = "nanotrack_backbone_sim.onnx"


def nano_config(weights, template=64, search=128, **options) -> ModelConfig:
    mean, std = IDENTITY_NORM
    return ModelConfig(template_size=template, search_size=search, stem="nanotrack_v2",
                       stem_options={"weights": str(weights), **options}, norm_mean=mean, norm_std=std, **SMALL)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # depthwise convs oversubscribe a shared 2-core machine (test_mobilenet_stem)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def backbone_file(nanotrack_dir) -> Path:
    path = nanotrack_dir / BACKBONE
    if not path.is_file():
        pytest.skip(f"NanoTrack v2 backbone not available: {path}")
    return path


@pytest.fixture(scope="module")
def real_crop(train_videos) -> np.ndarray:
    """A 255 x 255 RGB crop around the target of a real frame, as OpenCV's TrackerNano makes it."""
    import cv2

    from sstrack_edge.evaluation.datasets import load_dataset

    seq = load_dataset(train_videos, "videos", ["OTB_Bird2"])[0]  # first frame from the frame cache
    x, y, w, h = seq.init_box
    img = seq.read_frame(0)
    side = 2 * np.sqrt((w + (w + h) / 2) * (h + (w + h) / 2))
    cx, cy = x + w / 2, y + h / 2
    m = np.array([[255 / side, 0, 127.5 - cx * 255 / side], [0, 255 / side, 127.5 - cy * 255 / side]])
    crop = cv2.warpAffine(img, m, (255, 255), borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32)


@pytest.mark.realdata
def test_rebuilt_graph_equals_the_onnx_file_on_a_real_crop(backbone_file, real_crop):
    ort = pytest.importorskip("onnxruntime")
    ref = ort.InferenceSession(str(backbone_file), providers=["CPUExecutionProvider"]).run(None, {"input": real_crop})[0]
    stem = NanoTrackStem(nano_config(backbone_file)).eval()
    with torch.no_grad():
        got = stem.backbone(torch.from_numpy(real_crop)).numpy()
    assert got.shape == ref.shape == (1, 48, 16, 16)
    assert np.abs(got - ref).max() < 1e-4 * np.abs(ref).max()
    assert stem.load_report["parameters"] == 188_208 and stem.out_channels == 48


@pytest.mark.realdata
def test_batch_and_input_size_independence(backbone_file, real_crop):
    """Squeeze-excitation pools each sample on its own (the file's batch-1 Reshapes are not used),
    and any multiple of 16 works: 96 -> 6x6 and 192 -> 12x12 tokens."""
    stem = NanoTrackStem(nano_config(backbone_file, template=96, search=192)).eval()
    x = torch.from_numpy(real_crop)
    batch = torch.cat([x, x.flip(3), torch.zeros_like(x)])
    with torch.no_grad():
        together = stem.backbone(batch)
        alone = torch.cat([stem.backbone(b[None]) for b in batch])
        assert torch.allclose(together, alone, atol=1e-4)
        assert stem(torch.zeros(2, 3, 96, 96)).shape == (2, 36, 32)
        assert stem(torch.zeros(2, 3, 192, 192)).shape == (2, 144, 32)


@pytest.mark.realdata
def test_bad_settings_fail_loudly(backbone_file, tmp_path):
    with pytest.raises(ValueError, match="norm_mean"):
        build_model(ModelConfig(stem="nanotrack_v2", stem_options={"weights": str(backbone_file)}, **SMALL))
    with pytest.raises(ValueError, match="must name the NanoTrack v2 backbone"):
        build_model(nano_config(""))
    with pytest.raises(ValueError, match="unknown stem_options"):
        build_model(nano_config(backbone_file, layers=14))
    with pytest.raises(ValueError, match="freeze_layers"):
        build_model(nano_config(backbone_file, freeze_layers=-1))
    with pytest.raises(ValueError, match="patch_size"):
        mean, std = IDENTITY_NORM
        build_model(ModelConfig(template_size=64, search_size=128, patch_size=8, stem="nanotrack_v2",
                                stem_options={"weights": str(backbone_file)}, norm_mean=mean, norm_std=std, **SMALL))


def test_missing_corrupt_or_unsupported_files_fail_loudly(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    with pytest.raises(StemWeightsError, match="not found"):
        build_model(nano_config(tmp_path / "absent.onnx"))
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf" * 10)
    with pytest.raises(StemWeightsError, match="cannot be read as ONNX"):
        build_model(nano_config(bad))
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["c"], strides=[16, 16], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Sigmoid", ["c"], ["output"])],
        "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 2, 2])], [w])
    other = tmp_path / "sigmoid.onnx"
    onnx.save(helper.make_model(graph), str(other))
    with pytest.raises(StemWeightsError, match="operator Sigmoid"):
        build_model(nano_config(other))


@pytest.mark.realdata
def test_frozen_layers(backbone_file):
    stem = build_model(nano_config(backbone_file, freeze_layers=4)).backbone.patch_embed
    frozen = {k for k, m in stem.features.items() if not any(p.requires_grad for p in m.parameters())}
    assert frozen and all(int(k.split("_")[1]) < 4 for k in frozen)
    assert {k for k in stem.features if int(k.split("_")[1]) < 4} == frozen
    assert stem.load_report["frozen_modules"] == len(frozen)


@pytest.mark.realdata
def test_export_parity_on_real_crops_and_dynamic_int8(backbone_file, train_videos, tmp_path):
    import onnx
    from _stem_export import export_and_check_parity

    from training.export.quantize import select_nodes

    torch.manual_seed(0)
    cfg = nano_config(backbone_file, template=96, search=192)
    card, onnx_path = export_and_check_parity(build_model(cfg).eval(), cfg, train_videos, tmp_path, "nano-test")
    assert card.normalization["mean"] == [0.0, 0.0, 0.0]
    first = select_nodes(onnx.load(str(onnx_path)), ["patch_embed"])
    assert len(first) == 2 and all("features_0_" in n for n in first)  # template + search path


@pytest.mark.realdata
def test_candidate_config_builds_with_lr_groups_and_checkpoints_rebuild(backbone_file, train_videos, tmp_path):
    from training.checkpoint import FORMAT, VERSION
    from training.models.checkpoints import load_tracker
    from training.train_config import load_config
    from training.trainer import param_groups

    cfg = load_config(REPO / "training" / "configs" / "default_cpu_nanostem.yaml")
    mcfg = ModelConfig.from_dict(cfg.model)
    assert (mcfg.stem, mcfg.template_size, mcfg.search_size, mcfg.depth) == ("nanotrack_v2", 96, 192, 4)
    model = build_model(mcfg).eval()
    o = cfg.optim
    head, slow = param_groups(model, o.lr, o.backbone_lr_scale, o.backbone_keys)
    assert {id(p) for p in slow["params"]} == {id(p) for p in model.backbone.patch_embed.features.parameters()}
    assert slow["lr"] == pytest.approx(0.1 * o.lr)
    assert any(p is model.backbone.patch_embed.proj.weight for p in head["params"])
    ckpt = tmp_path / "trained.pt"
    torch.save({"format": FORMAT, "version": VERSION, "model_config": mcfg.to_dict(), "model": model.state_dict()},
               ckpt)
    rebuilt, _ = load_tracker(ckpt)
    assert rebuilt.cfg.stem_options["weights"] == mcfg.stem_options["weights"]  # the graph is the architecture
    for k, v in model.state_dict().items():
        assert torch.equal(v, rebuilt.state_dict()[k]), k
