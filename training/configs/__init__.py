"""Training configs (YAML), installed with the package."""
