"""How wide a command's tables may be: the terminal's width, or no limit when piped.

rich (and ``shutil.get_terminal_size``) fall back to 80 columns when stdout is not a terminal,
which cut ``realtime bench | tee log`` and ``realtime models list > file`` mid-cell.
"""

from __future__ import annotations

import os
import shutil
from typing import TextIO

PIPED_WIDTH = 1000  # a table is only as wide as its cells need; this just never cuts one


def table_width(out: TextIO) -> int:
    """``$COLUMNS`` when set, else the terminal's width, else (piped) wide enough for any table."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if out.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return PIPED_WIDTH
