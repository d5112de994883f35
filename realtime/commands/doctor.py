"""``realtime doctor``: check this machine and explain what runs where and what to fix.

The probing and the diagnosis live in ``realtime.doctor``; this module only chooses the
format and the exit code (non-zero when the main command could not run).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from realtime.doctor import Probes, build_report, exit_code, render_text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (schema: realtime/assets/doctor.schema.json)",
    )


def run(args: argparse.Namespace, *, probes: Probes | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    report = build_report(probes)
    if getattr(args, "json", False):
        out.write(json.dumps(report, indent=2, sort_keys=False) + "\n")
    else:
        out.write(render_text(report))
    return exit_code(report)
