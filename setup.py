"""Package layout only (metadata lives in pyproject.toml).

The repository's top-level ``models/`` directory (shipped model artifacts + cards) is installed as the
package ``sstrack_edge.models``, so ``Tracker()`` finds the default model after a plain
``pip install .`` as well as in editable installs. ``packages.find`` cannot express that mapping.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["sstrack_edge", "sstrack_edge.*", "training", "training.*"])
packages.append("sstrack_edge.models")

setup(packages=packages, package_dir={"sstrack_edge.models": "models"})
