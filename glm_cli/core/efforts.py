"""The `--effort` levels (SPEC §1.2), on their own: the option declarations read them
without importing the request model."""

from __future__ import annotations

EFFORTS = ("max", "xhigh", "high", "medium", "low", "minimal", "none")
"""`--effort` levels, most thinking first."""
NO_THINKING_EFFORTS = frozenset({"none", "minimal"})
"""Efforts that turn thinking off."""
