"""Print the host NVIDIA driver minimums for a CUDA runtime as a Markdown table.

The rows come from realtime/assets/cuda_drivers.toml through the same functions that
``realtime doctor`` uses inside the container, so the table in docs/containers.md and the
doctor's verdict cannot disagree. Regenerate the table after updating the data:

    python tools/driver_table.py --cuda 13.0        # the runtime of the cuda image
    python tools/driver_table.py                    # the runtime installed here, else every major
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from realtime.doctor.container_facts import (
    driver_rows,
    installed_cuda_runtime,
    load_driver_table,
    version_tuple,
)


def markdown(rows: list[dict[str, str]]) -> str:
    """The rows as a Markdown table; an empty Windows cell means NVIDIA lists no minimum."""
    lines = [
        "| CUDA runtime | what it covers | Linux driver (minimum) | Windows driver for WSL2 (minimum) |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['cuda']} | {r['label']} | {r['linux'] or '-'} | {r['windows'] or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cuda", help="CUDA runtime version, e.g. 13.0 (default: the installed one)")
    args = ap.parse_args(argv)
    table = load_driver_table()
    cuda = args.cuda or installed_cuda_runtime()
    if cuda:
        rows = driver_rows(table, cuda)
        if not rows:
            ap.error(f"the driver table has no rows for CUDA {cuda}")
    else:
        majors = sorted(table["minor_compat"], key=lambda m: version_tuple(m), reverse=True)
        rows = [row for major in majors for row in driver_rows(table, f"{major}.0")]
    sys.stdout.write(markdown(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
