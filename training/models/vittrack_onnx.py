"""Read OpenCV's VitTrack ONNX (``cv2.TrackerVit``'s network) into this package's :class:`OSTrack`.

VitTrack (OpenCV model zoo, Apache-2.0; training code lpylpy0514/VitTracker) is a one-stream
OSTrack-family tracker with our centre-head I/O: template 128, search 256, 16x16 score / size /
offset maps. Its graph maps one to one onto ``OSTrack`` with the ``conv_stride2`` stem:

    template/search -> 4 x (Conv 3x3 s2 [+ HardSwish])      backbone.patch_embed.features.{0,2,4,6}
    + pos_embed_z / pos_embed_x                              backbone.pos_embed_z / _x
    blocks.i: LayerNorm, qkv MatMul, attention, proj,        backbone.blocks.i.* (MatMul weights
              LayerNorm, fc1, GELU (erf), fc2                transposed to Linear's (out, in))
    norm                                                     backbone.norm
    search tokens -> (B, C, 16, 16) -> 3 branches of         box_head.conv{1..4}_{ctr,offset,size}.0
              4 x (Conv 3x3 + ReLU) + Conv 1x1               (BatchNorm folded in the file: ours is
                                                             set to the identity) and conv5_*

What the file does not hold is read from its graph: width, depth, sizes, head channels, LayerNorm
epsilon, the attention scale (checked against one head: ``sqrt(C)``). The network expects pixels
/255 and normalised with ImageNet mean/std, which OpenCV applies outside the graph to BGR frames
without swapping channels; here the normalisation is the graph's first op (``network_color``
says whether it swaps BGR to RGB first; :func:`read_vittrack_onnx` takes it as an argument, the
model card records it).

Every check that fails raises :class:`PretrainedLoadError` naming the file and what differs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
BRANCHES = {"output1": "ctr", "output3": "offset", "output2": "size"}  # ONNX output -> head branch


def _error(path: Path, msg: str) -> Exception:
    from .checkpoints import PretrainedLoadError

    return PretrainedLoadError(f"{path} is not a VitTrack-layout ONNX file: {msg}")


class _Graph:
    def __init__(self, path: Path):
        import onnx
        from onnx import numpy_helper

        self.path = path
        try:
            m = onnx.load(str(path))
        except Exception as e:  # protobuf raises DecodeError and friends
            raise _error(path, f"cannot be parsed ({e})") from e
        g = m.graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.nodes = list(g.node)
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in self.nodes:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.inputs = [i.name for i in g.input if i.name not in self.inits]
        self.outputs = [o.name for o in g.output]

    def init(self, name: str) -> np.ndarray:
        if name not in self.inits:
            raise _error(self.path, f"tensor {name!r} is not a constant")
        return self.inits[name]

    def scalar(self, name: str) -> float:
        return float(np.asarray(self.init(name)).reshape(-1)[0])

    def only_consumer(self, name: str, op: str):
        nodes = [n for n in self.consumers.get(name, []) if n.op_type == op]
        if len(nodes) != 1:
            raise _error(self.path, f"expected one {op} reading {name!r}, found {len(nodes)}")
        return nodes[0]

    def attr(self, node, name: str, default: Any = None) -> Any:
        import onnx

        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default


def _stem(g: _Graph, state: dict[str, torch.Tensor]) -> list[int]:
    """The conv chain from the ``template`` input to the token Reshape; returns its widths."""
    name, widths, idx = "template", [], 0
    while True:
        conv = g.only_consumer(name, "Conv")
        if g.attr(conv, "strides") != [2, 2] or g.attr(conv, "kernel_shape") != [3, 3]:
            raise _error(g.path, f"stem conv {idx // 2} is not 3x3 stride 2")
        w, b = g.init(conv.input[1]), g.init(conv.input[2])
        state[f"backbone.patch_embed.features.{idx}.weight"] = torch.from_numpy(w.copy())
        state[f"backbone.patch_embed.features.{idx}.bias"] = torch.from_numpy(b.copy())
        widths.append(int(w.shape[0]))
        nxt = g.consumers.get(conv.output[0], [])
        if len(nxt) == 1 and nxt[0].op_type == "HardSwish":
            name, idx = nxt[0].output[0], idx + 2
            continue
        return widths


def _blocks(g: _Graph, state: dict[str, torch.Tensor]) -> int:
    """Linear weights: every MatMul with a constant (in, out) weight whose output gets a named bias."""
    depth = 0
    for n in g.nodes:
        if n.op_type != "MatMul" or n.input[1] not in g.inits:
            continue
        adds = [a for a in g.consumers.get(n.output[0], []) if a.op_type == "Add"]
        bias = [i for a in adds for i in a.input if i.endswith(".bias") and i in g.inits]
        if len(bias) != 1:
            raise _error(g.path, f"MatMul {n.name or n.output[0]!r} has no single named bias")
        key = bias[0][: -len(".bias")]
        state[f"backbone.{key}.weight"] = torch.from_numpy(g.init(n.input[1]).T.copy())
        if key.startswith("blocks."):
            depth = max(depth, int(key.split(".")[1]) + 1)
    return depth


def _head(g: _Graph, state: dict[str, torch.Tensor]) -> int:
    """Walk back from each output through Clip/Sigmoid, conv5 and 4 x (Relu <- Conv)."""
    channels = 0
    for out, branch in BRANCHES.items():
        if out not in g.producer:
            raise _error(g.path, f"output {out!r} missing (outputs: {g.outputs})")
        node = g.producer[out]
        while node.op_type in ("Clip", "Sigmoid"):
            node = g.producer[node.input[0]]
        for layer in range(5, 0, -1):
            if node.op_type != "Conv":
                raise _error(g.path, f"head branch {branch}: expected Conv for conv{layer}, found {node.op_type}")
            w, b = g.init(node.input[1]), g.init(node.input[2])
            key = f"box_head.conv{layer}_{branch}" + ("" if layer == 5 else ".0")
            state[f"{key}.weight"] = torch.from_numpy(w.copy())
            state[f"{key}.bias"] = torch.from_numpy(b.copy())
            if layer < 5:  # BatchNorm folded into the conv in the file: identity here
                c = int(w.shape[0])
                bn = f"box_head.conv{layer}_{branch}.1"
                state[f"{bn}.weight"] = torch.ones(c)
                state[f"{bn}.bias"] = torch.zeros(c)
                state[f"{bn}.running_mean"] = torch.zeros(c)
                state[f"{bn}.running_var"] = torch.full((c,), 1.0 - BN_EPS)  # (x - 0) / sqrt(1 - eps + eps)
                state[f"{bn}.num_batches_tracked"] = torch.tensor(0)
                if layer == 1:
                    channels = c
            if layer > 1:
                relu = g.producer[node.input[0]]
                if relu.op_type != "Relu":
                    raise _error(g.path, f"head branch {branch}: conv{layer} is not fed by a Relu")
                node = g.producer[relu.input[0]]
    return channels


BN_EPS = 1e-5  # torch BatchNorm2d default, what CenterPredictor builds


def _ln_eps(g: _Graph) -> float:
    """The epsilon added before the Sqrt of the first LayerNorm (exported as ReduceMean / Pow / Sqrt)."""
    for n in g.nodes:
        if n.op_type == "Sqrt":
            add = g.producer[n.input[0]]
            const = [i for i in add.input if i in g.inits]
            if add.op_type == "Add" and const:
                return g.scalar(const[0])
    raise _error(g.path, "no LayerNorm epsilon (Add before Sqrt) found")


def _attention_scale(g: _Graph) -> float:
    for n in g.nodes:
        if n.op_type == "Softmax":
            mm = g.producer[n.input[0]]
            div = g.producer[mm.input[0]]
            if div.op_type == "Div" and div.input[1] in g.inits:
                return g.scalar(div.input[1])
    raise _error(g.path, "no attention scale (Div before q k^T) found")


def read_vittrack_onnx(path: str | Path, network_color: str = "BGR") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(model config dict, state dict)`` for :func:`training.models.ostrack.build_model`.

    ``network_color``: the colour order the weights expect (``"BGR"``: as ``cv2.TrackerVit`` feeds
    them, no swap; docs/vittrack.md has the measurement).
    """
    path = Path(path)
    if not path.is_file():
        raise _error(path, "file not found")
    g = _Graph(path)
    if g.inputs != ["template", "search"]:
        raise _error(path, f"inputs are {g.inputs}, expected ['template', 'search']")
    state: dict[str, torch.Tensor] = {}
    widths = _stem(g, state)
    for key in ("pos_embed_z", "pos_embed_x"):
        state[f"backbone.{key}"] = torch.from_numpy(g.init(key).copy())
    for name, arr in g.inits.items():
        if name.startswith(("blocks.", "norm.")):
            state[f"backbone.{name}"] = torch.from_numpy(np.array(arr))
    depth = _blocks(g, state)
    head_channels = _head(g, state)
    dim = widths[-1]
    patch = 2 ** len(widths)
    scale = _attention_scale(g)
    if not math.isclose(scale, math.sqrt(dim), rel_tol=1e-5):
        raise _error(path, f"attention scale {scale} is not sqrt({dim}): more than one head is not supported")
    fc1 = state["backbone.blocks.0.mlp.fc1.weight"]
    cfg = dict(
        template_size=math.isqrt(state["backbone.pos_embed_z"].shape[1]) * patch,
        search_size=math.isqrt(state["backbone.pos_embed_x"].shape[1]) * patch,
        template_factor=2.0, search_factor=4.0,  # the author's config (TEST.*_FACTOR)
        patch_size=patch, embed_dim=dim, depth=depth, num_heads=1,
        mlp_ratio=fc1.shape[0] / dim, qkv_bias=True, drop_path=0.1, head_channels=head_channels,
        norm_mean=IMAGENET[0], norm_std=IMAGENET[1], network_color=network_color,
        ln_eps=_ln_eps(g), stem="conv_stride2",
    )
    return cfg, state
