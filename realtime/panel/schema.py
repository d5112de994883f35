"""The panel's settings schema (``GET /api/schema``), generated from the declarations in
``realtime.options``: each setting's name, plain label, meaning, default, kind, range or
choices, whether it is a basic control, and whether it changes live (else a preset and a
restart). ``swap`` and ``faces`` are the live sections; the others say what a run was started
with."""

from __future__ import annotations

from typing import Any

from realtime.options import declared, schema_entry
from realtime.settings import Settings


def schema() -> dict[str, list[dict[str, Any]]]:
    """``{"swap": [...], "faces": [...], "source": [...], "output": [...], "run": [...]}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for d in declared(Settings):
        if "panel" in d.option.where:
            out.setdefault(d.section or "run", []).append(schema_entry(d))
    return out
