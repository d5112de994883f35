"""``realtime doctor``: check this machine and explain what runs where and what to fix.

The probing and the diagnosis live in ``realtime.doctor``; this module only chooses the
format and the exit code (non-zero when the main command could not run).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from functools import partial
from typing import TextIO

from realtime.doctor import Probes, build_report, exit_code, render_text
from realtime.doctor.runtime import probe_providers


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (schema: realtime/assets/doctor.schema.json)",
    )
    parser.add_argument("--remote", help="also check this Triton server (grpc://HOST:8001)")
    parser.add_argument("--swapper", help="with --remote: the swapper whose models must be served")


def run(args: argparse.Namespace, *, probes: Probes | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    probes = probes or Probes()
    if getattr(args, "remote", None):  # Triton is a provider of this run only with a server
        probes = replace(probes, providers=partial(probe_providers, remote=args.remote))
    report = build_report(probes)
    remote_rows = _remote_rows(args)
    if getattr(args, "json", False):
        doc = {**report, "remote": remote_rows} if remote_rows is not None else report
        out.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    else:
        out.write(render_text(report))
        if remote_rows is not None:
            # The Triton checks load only with --remote (tritonclient is optional).
            from realtime.doctor.remote import render

            out.write(render(remote_rows))
    code = exit_code(report)
    return code or (1 if remote_rows and not all(r["ok"] for r in remote_rows) else 0)


def _remote_rows(args: argparse.Namespace) -> list[dict[str, object]] | None:
    if not getattr(args, "remote", None):
        return None
    # The Triton checks load only with --remote (tritonclient is optional).
    from realtime.doctor.remote import check_remote, needed_models

    return check_remote(args.remote, needed_models(getattr(args, "swapper", None)))
