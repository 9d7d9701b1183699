"""A plain (non-editable) `pip install .` must carry models/ as sstrack_edge.models and the configs."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_models_package_and_configs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("sstrack_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "sstrack_edge/models/__init__.py" in names
    assert "sstrack_edge/tracker.py" in names
    assert any(n.startswith("training/configs/") and n.endswith(".yaml") for n in names)
    # every shipped artifact under models/ is in the wheel (the default model once it lands)
    shipped = [p for p in (REPO / "models").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for p in shipped:
        assert "sstrack_edge/models/" + p.relative_to(REPO / "models").as_posix() in names
    # the runtime never pulls torch: it is not a base dependency
    meta = next(n for n in names if n.endswith("METADATA"))
    requires = [l for l in zipfile.ZipFile(wheel).read(meta).decode().splitlines() if l.startswith("Requires-Dist")]
    base = [r for r in requires if "extra ==" not in r]
    assert not any("torch" in r for r in base), base


def test_runtime_never_imports_training():
    """The import graph flows one way: training -> sstrack_edge (bench's torch row is an entry point)."""
    import re

    offenders = [str(p.relative_to(REPO)) for p in (REPO / "sstrack_edge").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+training\b", p.read_text(), re.M)]
    assert not offenders, offenders


def test_wheel_builds_with_the_oldest_declared_setuptools(tmp_path):
    """The build-system floor is real: a venv holding the lowest setuptools series the pyproject
    admits builds the wheel and its metadata (PyPI is reachable by pip here and in CI)."""
    import re
    import tomllib
    import venv

    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    (floor,) = [re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", r).group(1) for r in requires if r.startswith("setuptools")]
    venv.create(tmp_path / "venv", with_pip=True)
    py = tmp_path / "venv" / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", f"setuptools=={floor}.*", "wheel"], check=True, timeout=600)
    r = subprocess.run([py, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("sstrack_edge-*.whl")
    meta = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("METADATA"))
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(meta).decode()
