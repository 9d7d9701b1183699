"""The pretrained MobileNetV2 stem (training/models/mobilenet_stem.py, docs/conv-stem.md).

Key layout (a fake torchvision state dict written here from the (t, c, n, s) table, and the real
ImageNet file), frozen BatchNorm under ``model.train()``, token counts / position embeddings,
loud failures on bad weights files, export (ONNX Runtime, OpenVINO, dynamic INT8) on real crops,
and the ``default_cpu.yaml`` parameter groups.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from training.models.mobilenet_stem import MobileNetV2Stem, StemWeightsError
from training.models.ostrack import ModelConfig, build_model

WEIGHTS_NAME = "mobilenet_v2-b0353104.pth"
REPO = Path(__file__).resolve().parents[2]
SMALL = dict(depth=1, embed_dim=32, num_heads=2, head_channels=16)
TV_TABLE = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def torchvision_layout(layers: int = 19) -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision ``mobilenet_v2().features[0:layers]``, written from its table
    (independent of the module under test)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv_bn(prefix: str, conv_shape: tuple[int, ...], bn_prefix: str) -> None:
        shapes[f"{prefix}.weight"] = conv_shape
        c = conv_shape[0]
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn_prefix}.{name}"] = (c,)
        shapes[f"{bn_prefix}.num_batches_tracked"] = ()

    conv_bn("features.0.0", (32, 3, 3, 3), "features.0.1")
    cin, i = 32, 1
    for t, c, n, _ in TV_TABLE:
        for _ in range(n):
            p, hidden, j = f"features.{i}.conv", cin * t, 0
            if t != 1:
                conv_bn(f"{p}.0.0", (hidden, cin, 1, 1), f"{p}.0.1")
                j = 1
            conv_bn(f"{p}.{j}.0", (hidden, 1, 3, 3), f"{p}.{j}.1")
            conv_bn(f"{p}.{j + 1}", (c, hidden, 1, 1), f"{p}.{j + 2}")
            cin, i = c, i + 1
    conv_bn("features.18.0", (1280, 320, 1, 1), "features.18.1")
    return {k: s for k, s in shapes.items() if int(k.split(".")[1]) < layers}


def fake_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shape in torchvision_layout().items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(shape, generator=g)
    sd["classifier.1.weight"] = torch.randn(1000, 1280, generator=g)
    sd["classifier.1.bias"] = torch.randn(1000, generator=g)
    return sd


def stem_config(weights=None, template=64, search=128, **options) -> ModelConfig:
    return ModelConfig(template_size=template, search_size=search, stem="mobilenet_v2",
                       stem_options={"weights": None if weights is None else str(weights), **options}, **SMALL)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Depthwise convs on a shared 2-core machine ran ~10x slower with 2 threads than with 1
    (OpenMP oversubscription, measured); results do not depend on the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fake_weights(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = fake_state_dict()
    path = tmp_path_factory.mktemp("mbv2") / "fake_mobilenet_v2.pth"
    torch.save(sd, path)
    return path, sd


@pytest.fixture(scope="module")
def real_weights(shared_dir) -> Path:
    path = shared_dir / "weights" / WEIGHTS_NAME
    if not path.is_file():
        pytest.skip(f"ImageNet MobileNetV2 weights not available: {path}")
    return path


# ------------------------------------------------------------------------------ key layout
def test_fake_torchvision_state_dict_loads_every_tensor(fake_weights):
    path, sd = fake_weights
    model = build_model(stem_config(path))
    stem = model.backbone.patch_embed
    own = {f"features.{k}": v for k, v in stem.features.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in own.items()} == torchvision_layout(14)
    for k, v in own.items():
        assert torch.equal(v, sd[k]), k
    assert stem.load_report["loaded"] == stem.load_report["expected"] == len(torchvision_layout(14)) == 234
    assert stem.load_report["unused"] == len(sd) - 234  # features 14..18 and the classifier
    assert "backbone.patch_embed.features.13.conv.3.running_var" in model.state_dict()


@pytest.mark.realdata
def test_real_imagenet_weights_load_and_classify_coco_dogs_and_cats(real_weights, stills_dir):
    """The whole torchvision MobileNetV2 rebuilt from our modules + the file's classifier puts COCO
    dog crops into ImageNet's dog classes (151-268) and cats into its cat classes (281-285): the
    layout (order, strides, residuals, padding) is torchvision's, not just key-compatible."""
    import cv2

    from training.models.mobilenet_stem import load_features_weights, mobilenet_v2_features

    features = mobilenet_v2_features(19).eval()
    report = load_features_weights(features, real_weights)
    assert report["loaded"] == report["expected"] == 312 and report["unused"] == 2  # the classifier
    sd = torch.load(real_weights, weights_only=True)
    fc = nn.Linear(1280, 1000)
    fc.load_state_dict({"weight": sd["classifier.1.weight"], "bias": sd["classifier.1.bias"]})
    root = stills_dir / "coco128"
    ann = json.loads((root / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in ann["categories"]}
    files = {i["id"]: i["file_name"] for i in ann["images"]}
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    hits, seen = 0, []
    for a in ann["annotations"]:
        name = names[a["category_id"]]
        x, y, w, h = (int(v) for v in a["bbox"])
        if name not in ("dog", "cat") or w * h < 80 * 80 or seen.count(name) >= 5:
            continue
        rgb = cv2.imread(str(root / "images" / files[a["image_id"]]))[:, :, ::-1]
        crop = cv2.resize(rgb[y:y + h, x:x + w], (224, 224), interpolation=cv2.INTER_LINEAR)
        t = torch.from_numpy(((crop / 255.0 - mean) / std).transpose(2, 0, 1)[None]).float()
        with torch.no_grad():
            cls = int(fc(features(t).mean((2, 3))).argmax())
        hits += (151 <= cls <= 268) if name == "dog" else (281 <= cls <= 285)
        seen.append(name)
    assert seen.count("dog") == seen.count("cat") == 5
    assert hits >= 9, f"{hits}/10 dog/cat crops classified into the right ImageNet group"


@pytest.mark.realdata
def test_relative_weights_path_resolves_against_the_repository_root(real_weights, monkeypatch, tmp_path):
    if real_weights.resolve() != (REPO.parent / "shared" / "weights" / WEIGHTS_NAME).resolve():
        pytest.skip("SSTRACK_SHARED points elsewhere: ../shared/weights is not the shared folder")
    monkeypatch.chdir(tmp_path)  # not the repository: the repo-root candidate must be used
    stem = build_model(stem_config(f"../shared/weights/{WEIGHTS_NAME}")).backbone.patch_embed
    assert Path(stem.load_report["source"]) == real_weights.resolve()
    assert stem.load_report["loaded"] == 234


# ------------------------------------------------------------------------ loud failures
def test_weights_with_other_key_names_fail_loudly(fake_weights, tmp_path):
    _, sd = fake_weights
    prefixed = tmp_path / "prefixed.pth"
    torch.save({f"backbone.{k}": v for k, v in sd.items()}, prefixed)
    missing = r"195/195 required tensors missing.*features\.0\.0\.weight.*backbone\.features"
    with pytest.raises(StemWeightsError, match=missing):
        build_model(stem_config(prefixed))


def test_weights_with_other_shapes_fail_loudly(fake_weights, tmp_path):
    _, sd = fake_weights
    narrow = dict(sd)
    narrow["features.0.0.weight"] = torch.zeros(16, 3, 3, 3)  # e.g. a width-0.5 MobileNetV2
    path = tmp_path / "narrow.pth"
    torch.save(narrow, path)
    shapes = r"1 shape mismatches.*features\.0\.0\.weight file\(16, 3, 3, 3\) vs stem\(32, 3, 3, 3\)"
    with pytest.raises(StemWeightsError, match=shapes):
        build_model(stem_config(path))


def test_missing_or_unreadable_weights_file_fails_loudly(tmp_path):
    with pytest.raises(StemWeightsError, match="weights file not found.*no_such_file.pth"):
        build_model(stem_config(tmp_path / "no_such_file.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(StemWeightsError, match="junk.pth cannot be read"):
        build_model(stem_config(junk))


def test_bad_stem_options_are_rejected():
    with pytest.raises(ValueError, match=r"unknown stem_options key\(s\) \['layer'\]"):
        build_model(stem_config(layer=14))
    stride = r"layers=7 has stride 8, but patch_size is 16; use layers in \[8, 9, 10, 11, 12, 13, 14\]"
    with pytest.raises(ValueError, match=stride):
        build_model(stem_config(layers=7))
    with pytest.raises(ValueError, match="stem_options.norm"):
        build_model(stem_config(norm="batchnorm"))


# -------------------------------------------------------------------------- frozen BN
def _bns(model) -> list[nn.BatchNorm2d]:
    return [m for m in model.backbone.patch_embed.features.modules() if isinstance(m, nn.BatchNorm2d)]


def test_batchnorm_stays_frozen_after_train(fake_weights):
    path, sd = fake_weights
    model = build_model(stem_config(path))
    model.train()
    assert len(_bns(model)) == 39 and not any(bn.training for bn in _bns(model))
    assert model.training and model.backbone.blocks[0].training and model.backbone.patch_embed.proj.training
    before = {k: v.clone() for k, v in model.backbone.patch_embed.features.state_dict().items() if "running" in k}
    out = model(torch.rand(4, 3, 64, 64) * 255, torch.rand(4, 3, 128, 128) * 255)
    (out["score_map"].mean() + out["size_map"].mean()).backward()
    after = model.backbone.patch_embed.features.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.backbone.patch_embed.features[0][0].weight.grad is not None  # weights still train
    model.eval()
    model.train()  # again: still frozen
    assert not any(bn.training for bn in _bns(model))


def test_unfrozen_batchnorm_and_frozen_layers_options():
    model = build_model(stem_config(freeze_bn=False, freeze_layers=4)).train()
    assert all(bn.training for bn in _bns(model))
    before = _bns(model)[-1].running_mean.clone()
    model(torch.rand(2, 3, 64, 64) * 255, torch.rand(2, 3, 128, 128) * 255)
    assert not torch.equal(before, _bns(model)[-1].running_mean)  # batch statistics update
    feats = model.backbone.patch_embed.features
    assert not any(p.requires_grad for p in feats[:4].parameters())
    assert all(p.requires_grad for p in feats[4:].parameters())


# ------------------------------------------------------------------ tokens and positions
@pytest.mark.parametrize("template,search", [(96, 192), (128, 256)])
def test_token_counts_and_position_embeddings(template, search):
    cfg = stem_config(template=template, search=search)
    model = build_model(cfg).eval()
    stem = model.backbone.patch_embed
    assert isinstance(stem, MobileNetV2Stem) and stem.stride == 16 and stem.out_channels == 96
    nz, nx = (template // 16) ** 2, (search // 16) ** 2
    assert model.backbone.pos_embed_z.shape == (1, nz, 32) and model.backbone.pos_embed_x.shape == (1, nx, 32)
    with torch.no_grad():
        assert stem(torch.rand(2, 3, template, template)).shape == (2, nz, 32)
        assert stem(torch.rand(2, 3, search, search)).shape == (2, nx, 32)
        out = model(torch.rand(1, 3, template, template) * 255, torch.rand(1, 3, search, search) * 255)
    assert out["score_map"].shape == (1, 1, search // 16, search // 16)


def test_truncation_index_sets_channels():
    assert build_model(stem_config(layers=11)).backbone.patch_embed.out_channels == 64
    assert build_model(stem_config(layers=8, norm="layernorm")).backbone.patch_embed.norm.normalized_shape == (32,)


def test_layers_whose_stride_is_not_the_patch_size_are_refused():
    with pytest.raises(ValueError, match=r"layers=18 has stride 32, but patch_size is 16; use layers in \[8, "):
        build_model(stem_config(layers=18))


# ----------------------------------------------------------------------------- export
@pytest.mark.realdata
def test_export_parity_on_real_crops_and_dynamic_int8(real_weights, train_videos, tmp_path):
    from _stem_export import export_and_check_parity

    torch.manual_seed(0)
    cfg = stem_config(real_weights)  # ImageNet weights: realistic activation ranges
    export_and_check_parity(build_model(cfg).eval(), cfg, train_videos, tmp_path, "mbv2-test")


# ----------------------------------------------------------------------- default config
@pytest.mark.realdata
def test_default_cpu_config_builds_with_pretrained_stem_and_lr_groups(real_weights, train_videos):
    from training.train_config import load_config
    from training.trainer import param_groups

    cfg = load_config(REPO / "training" / "configs" / "default_cpu.yaml")
    mcfg = ModelConfig.from_dict(cfg.model)
    arch = (mcfg.stem, mcfg.template_size, mcfg.search_size, mcfg.depth, mcfg.embed_dim)
    assert arch == ("mobilenet_v2", 96, 192, 4, 192)
    model = build_model(mcfg)
    assert model.backbone.patch_embed.load_report["loaded"] == 234
    assert model.backbone.pos_embed_z.shape[1] == 36 and model.backbone.pos_embed_x.shape[1] == 144
    o = cfg.optim
    head, slow = param_groups(model, o.lr, o.backbone_lr_scale, o.backbone_keys)
    frozen = mcfg.stem_options["freeze_layers"]
    assert frozen == 7 and not any(p.requires_grad for p in model.backbone.patch_embed.features[:frozen].parameters())
    stem_params = {id(p) for p in model.backbone.patch_embed.features[frozen:].parameters()}
    assert {id(p) for p in slow["params"]} == stem_params and slow["lr"] == pytest.approx(0.1 * o.lr)
    assert head["lr"] == o.lr and any(p is model.backbone.patch_embed.proj.weight for p in head["params"])
    assert any(p is model.backbone.blocks[0].attn.qkv.weight for p in head["params"])


# ----------------------------------------------------------------------------- trainer
@pytest.mark.realdata
def test_one_training_epoch_keeps_the_files_bn_statistics(fake_weights, train_videos, stills_dir, tmp_path):
    """Through the real trainer (which calls ``model.train()`` every epoch): the stem's BN running
    statistics are still the file's after an epoch, while its conv weights moved (lr x 0.1 group)."""
    from _train_tiny import tiny_config
    from training.trainer import Trainer

    path, sd = fake_weights
    model = {"template_size": 32, "search_size": 64, "embed_dim": 32, "depth": 1, "num_heads": 2,
             "head_channels": 16, "stem": "mobilenet_v2", "stem_options": {"weights": str(path)}}
    cfg = tiny_config(train_videos, stills_dir, epochs=1, model=model, data={"samples_per_epoch": 16},
                      optim={"batch_size": 8, "backbone_keys": ["patch_embed.features"], "backbone_lr_scale": 0.1})
    trainer = Trainer(cfg, tmp_path)
    (rec,) = trainer.fit()
    assert rec["samples"] == 16 and np.isfinite(rec["loss"])
    stem = trainer.model.backbone.patch_embed
    state = {f"features.{k}": v for k, v in stem.features.state_dict().items()}
    assert all(torch.equal(state[k], sd[k]) for k in state if "running" in k)
    assert not torch.equal(state["features.13.conv.2.weight"], sd["features.13.conv.2.weight"])
    assert [g["initial_lr"] for g in trainer.optimizer.param_groups] == pytest.approx([1e-3, 1e-4])


def test_quantizer_groups_on_a_conv_stem(tmp_path):
    """``patch_embed`` keeps only the stem's first Conv in float (not the whole stem); ``stem`` keeps all."""
    import onnx

    from training.export.onnx_export import export_onnx
    from training.export.quantize import select_nodes

    torch.manual_seed(0)
    path = export_onnx(build_model(stem_config()).eval(), tmp_path / "m.onnx")
    m = onnx.load(str(path))
    convs = [n.name for n in m.graph.node if n.op_type == "Conv" and "patch_embed/" in n.name]
    first = select_nodes(m, ["patch_embed"])
    assert len(first) == 2 and all("features.0/" in n for n in first)  # template + search path
    assert sorted(select_nodes(m, ["stem"])) == sorted(convs) and len(convs) > 10
    ov = pytest.importorskip("openvino")
    from training.export.quantize import _ov_ignored_scope

    _, found = _ov_ignored_scope(ov.Core().read_model(str(path)), convs)  # depthwise = GroupConvolution
    assert len(found) >= len(convs)


def test_checkpoint_rebuilds_without_the_stem_init_file(fake_weights, tmp_path):
    """A trained checkpoint holds every stem tensor; the ImageNet file named in its config may be gone."""
    import shutil

    from training.checkpoint import FORMAT, VERSION
    from training.models.checkpoints import load_tracker

    init = tmp_path / "init.pth"
    shutil.copy(fake_weights[0], init)
    torch.manual_seed(0)
    cfg = stem_config(init)
    model = build_model(cfg).eval()
    ckpt = tmp_path / "trained.pt"
    torch.save({"format": FORMAT, "version": VERSION, "model_config": cfg.to_dict(), "model": model.state_dict()}, ckpt)
    init.unlink()
    with pytest.raises(StemWeightsError, match="not found"):
        build_model(cfg)
    rebuilt, _ = load_tracker(ckpt)
    assert rebuilt.cfg.stem_options["weights"] is None
    for k, v in model.state_dict().items():
        assert torch.equal(v, rebuilt.state_dict()[k]), k
