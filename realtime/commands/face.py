"""``realtime face check PHOTO``: how a face photo will hold up as the swapped face, and
what to do about it (the checks live in ``realtime.swap.photo_check``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from realtime.swap.photo_check import TYPICAL_CAMERA_FACE, photo_report


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="check one or more face photos")
    check.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="face photos to check")
    check.add_argument(
        "--camera-face",
        type=float,
        default=TYPICAL_CAMERA_FACE,
        help="the camera's face size in pixels (larger side of the face; about 260 at 720p, 60 cm away)",
    )
    check.add_argument("--json", action="store_true", help="print the reports as JSON")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """0 when every photo has a face (warnings included: the photo still works), 2 when one
    has none or cannot be read (``NoFaceError``/``InputError`` reach the CLI's handler)."""
    out = out or sys.stdout
    reports = [photo_report(p, camera_face=args.camera_face) for p in args.photos]
    if args.json:
        out.write(json.dumps([r.to_dict() for r in reports], indent=2) + "\n")
        return 0
    for r in reports:
        verdict = "good" if r.ok else f"{sum(not f.ok for f in r.findings)} problem(s)"
        out.write(f"{r.path}: face {r.face_size:.0f} px, {verdict}\n")
        for f in r.findings:
            out.write(f"  {'ok  ' if f.ok else 'WARN'} {f.check:<8} {f.message}\n")
            if f.advice:
                out.write(f"       -> {f.advice}\n")
    return 0
