"""A separate process that plays what ``--sink stream`` sends, as OBS's Media Source would.

    python tools/stream_reader.py udp://127.0.0.1:PORT [--idle 3] [--stamped]

Decodes with PyAV until no packet came for ``--idle`` seconds, then prints one JSON line:
frames decoded, their size, decode errors, and with ``--stamped`` the latency of each frame
from its capture (a time stamped into the frame's top row by ``tools/stream_bench.py``, on the
system-wide monotonic clock both processes share) to its decoding here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import av
import numpy as np

STAMP_BITS = 48
STAMP_BLOCK = 16  # px: one bit is a 16x16 black or white block in the top row


def read_stamp(image: np.ndarray) -> float | None:
    """The capture time (seconds, monotonic) coded in the top row, or None when unreadable."""
    h = STAMP_BLOCK // 2
    if image.shape[1] < STAMP_BITS * STAMP_BLOCK:
        return None
    centres = image[h, h : STAMP_BITS * STAMP_BLOCK : STAMP_BLOCK].mean(axis=1)
    if np.any(np.abs(centres - 128) < 48):  # neither black nor white: not a stamp
        return None
    bits = centres > 128
    micros = int(sum(int(b) << i for i, b in enumerate(bits)))
    return micros / 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--open-timeout", type=float, default=60.0)
    ap.add_argument("--stamped", action="store_true")
    a = ap.parse_args()
    url = a.url + ("&" if "?" in a.url else "?") + "fifo_size=1000000&overrun_nonfatal=1"
    print("ready", flush=True)
    frames, size, errors, lat = 0, None, 0, []
    try:
        # Low delay on the reading side too, as OBS with "latency: 0" / ffplay -fflags nobuffer.
        with av.open(
            url,
            format="mpegts",
            options={"flags": "low_delay", "probesize": "32768", "analyzeduration": "0"},
            timeout=(a.open_timeout, a.idle),
        ) as c:
            stream = c.streams.video[0]
            stream.codec_context.flags |= av.codec.context.Flags.low_delay  # type: ignore[attr-defined]
            for packet in c.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:
                    errors += 1
                    continue
                for f in decoded:
                    now = time.monotonic()
                    frames += 1
                    size = (f.width, f.height)
                    if a.stamped:
                        t = read_stamp(f.to_ndarray(format="bgr24"))
                        if t is not None:
                            lat.append((now - t) * 1000.0)
    except av.error.ExitError:
        pass  # the idle timeout: the sender stopped
    except av.error.FFmpegError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
    out: dict[str, object] = {"frames": frames, "size": size, "decode_errors": errors}
    if a.stamped:
        out["latency_ms"] = [round(x, 2) for x in lat]
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
