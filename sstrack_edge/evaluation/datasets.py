"""Readers for the on-disk layouts of tracking benchmarks -> lists of :class:`Sequence`.

``load_dataset(root, fmt)`` dispatches on the format name (``FORMATS``). Each reader checks the
layout and raises :class:`DatasetFormatError` (a ``ValueError``) naming what is missing, so a wrong
``--format`` or a half-extracted download fails with a readable message. Layouts (paths relative to
``root``; ``docs/evaluation.md`` lists the sources and our assumptions):

========== ===================================================================================
sot        ``<seq>/img/*.jpg`` + ``<seq>/groundtruth.txt`` (+ optional ``sequences.json`` with fps)
videos     ``<seq>.mp4`` (or .avi/.mov/.mkv/.m4v) + ``<seq>.txt`` (+ optional ``sequences.json``), decoded
           once into the frame cache of :mod:`.video_frames` (``../shared/data/sot/train_videos``)
otb        ``<seq>/img/*.jpg`` + ``<seq>/groundtruth_rect.txt`` (comma or whitespace); multi-target
           ``groundtruth_rect.<k>.txt`` -> ``<seq>_<k>``; known start-frame offsets (David, BlurCar1/3/4)
uav123     ``data_seq/UAV123/<folder>/*.jpg`` + ``anno/UAV123/<seq>.txt``; sub-sequences by frame range
uav123_10fps  same with ``UAV123_10fps`` (ranges divided by 3), ``uav20l`` with ``UAV20L``
dtb70      ``<seq>/img/*.jpg`` + ``<seq>/groundtruth_rect.txt``
uavdt      ``UAV-benchmark-S/<seq>/img*.jpg`` + ``anno/<seq>_gt.txt``
lasot      ``<class>/<class>-<id>/img/*.jpg`` + ``groundtruth.txt``, ``full_occlusion.txt``,
           ``out_of_view.txt``; ``testing_set.txt`` in root (if present) selects the test split
nfs        ``<seq>/30/<seq>/*.jpg`` + ``<seq>/30/<seq>.txt`` (release rows ``id x1 y1 x2 y2 frame ...``
           annotated at 240 fps -> every 8th row; plain ``x,y,w,h`` rows are accepted too)
got10k     ``list.txt`` + ``<seq>/*.jpg`` + ``groundtruth.txt`` (+ ``absence.label``, ``cover.label``);
           test subset: first-frame box only
trackingnet  ``anno/<video>.txt`` + ``frames/<video>/<i>.jpg`` (0-based, not zero-padded)
========== ===================================================================================

``fmt="auto"`` picks ``videos`` or ``sot`` with :func:`detect_format` (the one rule the tools that
take a training-clip root use: ``sstrack-edge eval``, ``training.export``, ``training.evaluate``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .annotations import AnnotationError, read_boxes, read_flags, read_table
from .sequence import Sequence
from .uav123_ranges import UAV123_SUBSEQUENCES
from .video_frames import VideoDecodeError, cached_frames, clip_cache_dir, extract_frames, list_videos


class DatasetFormatError(ValueError):
    """The directory does not have the layout of the requested dataset format."""


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_DIGITS = re.compile(r"(\d+)")

# OTB-100 sequences whose annotation starts after frame 1 (OTB benchmark configSeqs).
OTB_START_FRAMES = {"David": 300, "BlurCar1": 247, "BlurCar3": 3, "BlurCar4": 18}


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t for t in _DIGITS.split(path.name)]


def list_images(directory: Path, prefix: str = "") -> list[Path]:
    """Image files of a folder in natural order (``2.jpg`` before ``10.jpg``)."""
    if not directory.is_dir():
        raise DatasetFormatError(f"frame folder not found: {directory}")
    files = [
        p for p in directory.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.name.startswith(prefix) and not p.name.startswith(".")
    ]
    if not files:
        raise DatasetFormatError(f"no images in {directory}")
    return sorted(files, key=_natural_key)


def _need_dir(path: Path, fmt: str) -> Path:
    if not path.is_dir():
        raise DatasetFormatError(f"{fmt}: expected folder {path} (is --format {fmt} right for this root?)")
    return path


def _match_frames(name: str, frames: list[Path], gt: np.ndarray, start: int = 1) -> list[Path]:
    """Frames ``start .. start+len(gt)-1`` (1-based) of a folder, checking there are enough."""
    end = start - 1 + len(gt)
    if end > len(frames):
        raise DatasetFormatError(
            f"sequence {name!r}: annotation covers frames {start}..{end} but the folder has {len(frames)} images"
        )
    return frames[start - 1:end]


def _subdirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_meta(meta_file: Path) -> dict:
    if not meta_file.is_file():
        return {}
    try:
        return json.loads(meta_file.read_text())
    except json.JSONDecodeError as e:
        raise DatasetFormatError(f"{meta_file} is not valid JSON: {e}") from e


# ---------------------------------------------------------------------------------- readers
def read_sot(root: Path) -> list[Sequence]:
    """The project's own layout (``../shared/data/sot``)."""
    meta = _read_meta(root / "sequences.json")
    names = sorted(meta) if meta else [d.name for d in _subdirs(root) if (d / "groundtruth.txt").is_file()]
    seqs = []
    for name in names:
        d = root / name
        gt = read_boxes(d / "groundtruth.txt")
        frames = _match_frames(name, list_images(d / "img"), gt)
        info = meta.get(name, {})
        seqs.append(Sequence(name, frames, gt, dataset=info.get("dataset", "sot"), fps=info.get("fps"), meta=info))
    return seqs


def read_videos(root: Path, names: list[str] | None = None) -> list[Sequence]:
    """Annotated clips; only ``names`` are decoded when given (the others are not touched)."""
    meta = _read_meta(root / "sequences.json")
    videos = {v.stem: v for v in list_videos(root) if v.with_suffix(".txt").is_file()}
    if names is not None:
        missing = [n for n in names if n not in videos]
        if missing:
            raise ValueError(f"sequences not in {root}: {', '.join(missing)}")
    seqs = []
    for name in names if names is not None else sorted(videos):
        v = videos[name]
        gt = read_boxes(v.with_suffix(".txt"))
        out = clip_cache_dir(v)
        try:
            n, fps = extract_frames(v, out)
        except VideoDecodeError as e:
            raise DatasetFormatError(str(e)) from e
        if n < len(gt):
            raise DatasetFormatError(f"sequence {name!r}: {len(gt)} ground-truth rows but the video has {n} frames")
        info = meta.get(name, {})
        seqs.append(Sequence(name, cached_frames(out, len(gt)), gt, dataset=info.get("dataset", "videos"),
                             fps=info.get("fps", fps), meta=info))
    return seqs


def read_otb(root: Path) -> list[Sequence]:
    seqs = []
    for d in _subdirs(root):
        annos = sorted(d.glob("groundtruth_rect*.txt"))
        if not annos:
            continue
        frames = list_images(d / "img")
        for anno in annos:
            if anno.stat().st_size == 0:  # Human4's groundtruth_rect.1.txt is empty
                continue
            parts = anno.name.split(".")
            name = d.name if len(parts) == 2 else f"{d.name}_{parts[1]}"
            gt = read_boxes(anno)
            start = OTB_START_FRAMES.get(d.name, 1)
            seqs.append(Sequence(name, _match_frames(name, frames, gt, start), gt, dataset="OTB", fps=30))
    return seqs


def uav123_start_frame(name: str, fps: int) -> tuple[str, int]:
    """(frame folder, 1-based first frame) of a UAV123 annotation file at 30 or 10 fps."""
    folder, start, _end = UAV123_SUBSEQUENCES.get(name, (name, 1, None))
    if fps == 10:
        start = (start - 1) // 3 + 1
    return folder, start


def _read_uav(root: Path, version: str, fps: int) -> list[Sequence]:
    anno_dir = _need_dir(root / "anno" / version, version)
    data_dir = _need_dir(root / "data_seq" / version, version)
    seqs = []
    cache: dict[str, list[Path]] = {}
    for anno in sorted(anno_dir.glob("*.txt"), key=_natural_key):
        name = anno.stem
        folder, start = uav123_start_frame(name, fps) if version != "UAV20L" else (name, 1)
        if folder not in cache:
            cache[folder] = list_images(data_dir / folder)
        gt = read_boxes(anno)
        seqs.append(Sequence(name, _match_frames(name, cache[folder], gt, start), gt, dataset=version, fps=fps))
    if not seqs:
        raise DatasetFormatError(f"{version}: no annotation files in {anno_dir}")
    return seqs


def read_uav123(root: Path) -> list[Sequence]:
    return _read_uav(root, "UAV123", 30)


def read_uav123_10fps(root: Path) -> list[Sequence]:
    return _read_uav(root, "UAV123_10fps", 10)


def read_uav20l(root: Path) -> list[Sequence]:
    return _read_uav(root, "UAV20L", 30)


def read_dtb70(root: Path) -> list[Sequence]:
    seqs = []
    for d in _subdirs(root):
        anno = d / "groundtruth_rect.txt"
        if not anno.is_file():
            continue
        gt = read_boxes(anno)
        seqs.append(Sequence(d.name, _match_frames(d.name, list_images(d / "img"), gt), gt, dataset="DTB70", fps=30))
    return seqs


def read_uavdt(root: Path) -> list[Sequence]:
    frames_root = _need_dir(root / "UAV-benchmark-S", "uavdt")
    anno_dir = root / "anno"
    if not anno_dir.is_dir():
        found = sorted(root.glob("*/anno"))
        if not found:
            raise DatasetFormatError(f"uavdt: no anno/ folder (with <seq>_gt.txt files) under {root}")
        anno_dir = found[0]
    seqs = []
    for anno in sorted(anno_dir.glob("*_gt.txt")):
        name = anno.name[: -len("_gt.txt")]
        gt = read_boxes(anno)
        frames = list_images(frames_root / name, prefix="img")
        seqs.append(Sequence(name, _match_frames(name, frames, gt), gt, dataset="UAVDT", fps=30))
    return seqs


def read_lasot(root: Path) -> list[Sequence]:
    split = root / "testing_set.txt"
    if split.is_file():
        names = [ln.strip() for ln in split.read_text().splitlines() if ln.strip()]
        dirs = [root / n.rsplit("-", 1)[0] / n for n in names]
    else:
        dirs = [d for c in _subdirs(root) for d in _subdirs(c) if (d / "groundtruth.txt").is_file()]
    seqs = []
    for d in dirs:
        gt = read_boxes(d / "groundtruth.txt")
        occluded = read_flags(d / "full_occlusion.txt")
        out_of_view = read_flags(d / "out_of_view.txt")
        if not (len(occluded) == len(out_of_view) == len(gt)):
            raise AnnotationError(
                f"lasot {d.name}: {len(gt)} boxes, {len(occluded)} occlusion and {len(out_of_view)} out-of-view labels"
            )
        visible = (occluded == 0) & (out_of_view == 0)
        seqs.append(Sequence(d.name, _match_frames(d.name, list_images(d / "img"), gt), gt,
                             dataset="LaSOT", fps=30, visible=visible))
    return seqs


def _read_nfs_anno(path: Path, n_frames: int) -> np.ndarray:
    rows = read_table(path, columns=4)
    if len(rows[0]) >= 5:  # release format: id xmin ymin xmax ymax frame lost occluded generated "label"
        try:
            a = np.array([[float(v) for v in r[1:5]] for r in rows], dtype=np.float64)
        except ValueError as e:
            raise AnnotationError(f"{path}: expected 'id xmin ymin xmax ymax ...' rows: {e}") from e
        a[:, 2:] -= a[:, :2]
    else:
        a = read_boxes(path)
    if len(a) != n_frames and abs(len(a) / n_frames - 8) < 1:  # 240 fps annotation of the 30 fps frames
        a = a[::8]
    return a


def read_nfs(root: Path, fps: int = 30) -> list[Sequence]:
    seqs = []
    for d in _subdirs(root):
        anno = d / str(fps) / f"{d.name}.txt"
        if not anno.is_file():
            continue
        frames = list_images(d / str(fps) / d.name)
        gt = _read_nfs_anno(anno, len(frames))
        n = min(len(gt), len(frames))
        if abs(len(gt) - len(frames)) > 1:
            raise DatasetFormatError(f"nfs {d.name}: {len(gt)} boxes for {len(frames)} frames")
        seqs.append(Sequence(d.name, frames[:n], gt[:n], dataset="NfS", fps=fps))
    return seqs


def read_got10k(root: Path) -> list[Sequence]:
    list_file = root / "list.txt"
    if list_file.is_file():
        names = [ln.strip() for ln in list_file.read_text().splitlines() if ln.strip()]
    else:
        names = [d.name for d in _subdirs(root) if (d / "groundtruth.txt").is_file()]
    seqs = []
    for name in names:
        d = root / name
        gt = read_boxes(d / "groundtruth.txt")
        frames = list_images(d)
        visible = None
        if len(gt) > 1:
            frames = _match_frames(name, frames, gt)
            vis = np.ones(len(gt), dtype=bool)
            if (d / "absence.label").is_file():
                vis &= read_flags(d / "absence.label")[: len(gt)] == 0
            if (d / "cover.label").is_file():
                vis &= read_flags(d / "cover.label")[: len(gt)] > 0
            visible = vis
        seqs.append(Sequence(name, frames, gt, dataset="GOT-10k", fps=10, visible=visible))
    return seqs


def read_trackingnet(root: Path) -> list[Sequence]:
    anno_dir = _need_dir(root / "anno", "trackingnet")
    frames_dir = _need_dir(root / "frames", "trackingnet")
    seqs = []
    for anno in sorted(anno_dir.glob("*.txt")):
        gt = read_boxes(anno)
        frames = list_images(frames_dir / anno.stem)
        if len(gt) > 1:
            frames = _match_frames(anno.stem, frames, gt)
        seqs.append(Sequence(anno.stem, frames, gt, dataset="TrackingNet", fps=30))
    return seqs


def detect_format(root: str | os.PathLike) -> str:
    """``"videos"`` when ``root`` holds video files (``<seq>.mp4``... beside ``<seq>.txt``), else ``"sot"``
    (``<seq>/img/*.jpg`` + ``groundtruth.txt``). The one auto-detection rule of the project: a root
    given without a format (``--format auto``) is read as what this returns."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"dataset root not found: {root}")
    return "videos" if list_videos(root) else "sot"


FORMATS: dict[str, Callable[[Path], list[Sequence]]] = {
    "sot": read_sot,
    "videos": read_videos,
    "otb": read_otb,
    "uav123": read_uav123,
    "uav123_10fps": read_uav123_10fps,
    "uav20l": read_uav20l,
    "dtb70": read_dtb70,
    "uavdt": read_uavdt,
    "lasot": read_lasot,
    "nfs": read_nfs,
    "got10k": read_got10k,
    "trackingnet": read_trackingnet,
}


def load_dataset(
    root: str | os.PathLike, fmt: str = "sot", sequences: Iterable[str] | None = None
) -> list[Sequence]:
    """Read every sequence of a benchmark (optionally only those named in ``sequences``);
    ``fmt="auto"``: ``videos`` or ``sot`` by :func:`detect_format`."""
    key = fmt.lower().replace("-", "_").replace("@", "_")
    if key not in FORMATS and key != "auto":
        raise ValueError(f"unknown dataset format {fmt!r}; known formats: auto, {', '.join(FORMATS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"dataset root not found: {root}")
    if key == "auto":
        key = fmt = detect_format(root)
    if key == "videos" and sequences is not None:
        return read_videos(root, list(sequences))  # decode only what is asked for
    seqs = FORMATS[key](root)
    if not seqs:
        raise DatasetFormatError(f"no {fmt} sequences found under {root}")
    if sequences is not None:
        wanted = list(sequences)
        by_name = {s.name: s for s in seqs}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise ValueError(f"sequences not in {root}: {', '.join(missing)}")
        seqs = [by_name[n] for n in wanted]
    return seqs
