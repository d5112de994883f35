"""What ``--sink stream`` adds: latency from capture to a frame decoded by a separate reader
process, and the CPU the encoding costs. Prints JSON.

    python tools/stream_bench.py [--seconds 10] [--size 1280x720]

The demo camera's frames are stamped at capture with their capture time (48 black or white
16x16 blocks in the top row, on the monotonic clock both processes share); the reader
(``tools/stream_reader.py``, PyAV with low-delay flags, as OBS's Media Source) decodes each
frame, reads the stamp and notes the time. ``added_ms`` is that latency minus the pipeline's
own (capture to output, from its stats), i.e. encoding + muxing + UDP + demuxing + decoding.
CPU: the process CPU time per output frame of the same run with ``--sink null``, and with
``--sink stream``; the difference is the stream's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from realtime.app import plan_from_settings  # noqa: E402
from realtime.build import build  # noqa: E402
from realtime.cli import main_parser, settings_from_args  # noqa: E402
from realtime.frame import Frame  # noqa: E402

STAMP_BITS, STAMP_BLOCK = 48, 16


def stamp(frame: Frame) -> None:
    """Code the capture time (microseconds) into the top row of the frame's image, in place
    (the capture hook gets the ring slot before anything reads it)."""
    micros = int(frame.captured_at * 1e6)
    row = frame.image[:STAMP_BLOCK]
    for i in range(STAMP_BITS):
        row[:, i * STAMP_BLOCK : (i + 1) * STAMP_BLOCK] = 255 if (micros >> i) & 1 else 0


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_once(args: list[str], seconds: float) -> tuple[dict[str, Any], float]:
    """The demo with ``args`` for ``seconds``: its final stats (with frames written by the
    first output) and the process CPU seconds it took."""
    settings = settings_from_args(main_parser().parse_args(["--demo", "--quiet", *args]))
    run = build(plan_from_settings(settings))
    run.pipeline.on_capture = stamp
    c0 = cpu_s()
    stats = run.pipeline.run(duration=seconds)
    stats["written"] = run.pipeline.outputs()[0].written
    return stats, cpu_s() - c0


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="1280x720")
    a = ap.parse_args()
    common = ["--size", a.size, "--on-miss", "pass"]

    base_stats, base_cpu = run_once(["--sink", "null", *common], a.seconds)

    url = f"udp://127.0.0.1:{free_udp_port()}"
    reader = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "stream_reader.py"), url, "--stamped", "--idle", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    stream_stats, stream_cpu = run_once(["--sink", "stream", "--stream-url", url, *common], a.seconds)
    out, _ = reader.communicate(timeout=60)
    got = json.loads(out.strip().splitlines()[-1])
    lat = got.pop("latency_ms")
    lat = lat[len(lat) // 10 :]  # the first tenth: start-up, the reader still probing
    pipe_p50 = stream_stats["latency_ms"]["p50"]
    base_frames = base_stats["processed"]
    stream_frames = stream_stats["processed"]
    result = {
        "command": f"python tools/stream_bench.py --seconds {a.seconds:g} --size {a.size}",
        "size": a.size,
        "seconds": a.seconds,
        "sent": stream_stats["written"],
        "received": got,
        "capture_to_decoded_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "n": len(lat)},
        "pipeline_capture_to_output_ms": {
            "p50": pipe_p50,
            "p95": stream_stats["latency_ms"]["p95"],
        },
        "added_ms_p50": None if not lat else round(float(np.percentile(lat, 50)) - pipe_p50, 1),
        "cpu_ms_per_frame": {
            "null_sink": round(1000 * base_cpu / max(base_frames, 1), 2),
            "stream_sink": round(1000 * stream_cpu / max(stream_frames, 1), 2),
        },
        "fps_out": {"null_sink": base_stats["fps_out"], "stream_sink": stream_stats["fps_out"]},
        "load_average": os.getloadavg(),
    }
    c = result["cpu_ms_per_frame"]
    c["stream_cost"] = round(c["stream_sink"] - c["null_sink"], 2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
