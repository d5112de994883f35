"""How much of a live recording is kept: the README's first command, 1080p with a slow preset,
and the quality preset, each run through the real CLI (optionally beside CPU hogs).

    python tools/bench_record.py [--hogs 2] [--case default] [--repeat 1]

Prints one JSON object: per case, the command, the exit code, the frames captured, dropped
by the pipeline (the swap could not keep up: shown to no output), given to the recording,
saved (counted in the file), skipped by the recording, and its encoder changes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
CASES = {
    # The same run with no recording: how many frames the swap itself drops on this machine now.
    "default-no-recording": ["--demo", "--sink", "null", "--duration", "5"],
    "default": ["--demo", "--sink", "file", "--duration", "5"],
    "1080p-slower": [
        "--demo",
        "--sink",
        "file",
        "--size",
        "1920x1080",
        "--preset",
        "slower",
        "--duration",
        "4",
    ],
    # The preset file of this checkout (by path: a bare name may resolve to an installed copy).
    "quality": [
        "--demo",
        "--config",
        str(REPO / "configs" / "quality.toml"),
        "--sink",
        "file",
        "--duration",
        "4",
    ],
}


def frames_in(path: Path) -> int:
    if not path.exists():
        return 0
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size)


def start_hogs(n: int) -> list[subprocess.Popen[bytes]]:
    """``n`` processes that each keep a core busy (the other programs of a busy machine)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run_case(name: str, where: Path) -> dict[str, object]:
    out, stats = where / f"{name}.mp4", where / f"{name}.json"
    records = "file" in CASES[name]
    output = ["--output", str(out)] if records else []
    cmd = [sys.executable, "-m", "realtime", *CASES[name], *output, "--stats-json", str(stats)]
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    result = json.loads(stats.read_text()) if stats.exists() else {}
    rec = (result.get("outputs") or [{}])[0]
    captured = int(result.get("captured", 0))
    saved = frames_in(out) if records else int(rec.get("written", 0))
    error = [ln for ln in done.stderr.splitlines() if ln.startswith("realtime: error:")]
    return {
        "case": name,
        "command": "realtime "
        + " ".join(CASES[name]).replace(str(REPO) + "/", "")
        + (f" --output {name}.mp4" if records else ""),
        "exit": done.returncode,
        "seconds": round(time.monotonic() - t0, 1),
        "captured": captured,
        "dropped_by_pipeline": result.get("dropped"),
        "given": int(rec.get("written", 0)) + int(rec.get("skipped", 0)),
        "saved": saved,
        "skipped": rec.get("skipped"),
        "saved_of_captured_pct": round(100.0 * saved / captured, 1) if captured else None,
        "encoder": rec.get("encoder"),
        "encoder_changes": rec.get("encoder_changes"),
        "error": error[0] if error else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hogs", type=int, default=0, help="CPU hogs to run beside each case")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: all")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = []
    hogs = start_hogs(args.hogs)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
            for _ in range(args.repeat):
                for name in args.case or list(CASES):
                    for f in Path(tmp).iterdir():
                        f.unlink()
                    runs.append(run_case(name, Path(tmp)))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    load = os.getloadavg()[0]
    print(json.dumps({"hogs": args.hogs, "loadavg_1min_after": round(load, 2), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
