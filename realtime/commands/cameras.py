"""``realtime cameras``: list the capture devices, so the user knows what to pass to --camera."""

from __future__ import annotations

import argparse
import json
import platform
from dataclasses import asdict

from realtime.sources.camera import CameraInfo, list_cameras


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the devices as JSON")


def format_table(cameras: list[CameraInfo]) -> str:
    """A plain aligned table: --camera value, name, and whether it is a loopback device."""
    rows = [("CAMERA", "NAME", "")] + [
        (c.device, c.name, "virtual (loopback)" if c.virtual else "") for c in cameras
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows)


def run(args: argparse.Namespace) -> int:
    cameras = list_cameras()
    if args.json:
        print(json.dumps([asdict(c) for c in cameras], indent=2))
        return 0
    if not cameras:
        hint = (
            "is it plugged in? In a container, pass the device through (--device /dev/video0)"
            if platform.system() == "Linux"
            else "is it plugged in, and does this terminal have camera permission?"
        )
        print(f"No cameras found ({hint}). `realtime --demo` runs without one.")
        return 0
    print(format_table(cameras))
    return 0
