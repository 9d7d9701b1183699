"""Shipped model artifacts (installed as ``sstrack_edge.models``). See README.md here."""
