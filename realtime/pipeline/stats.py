"""Pipeline statistics, recorded at each hop from the frames' own timestamps.

Latency is measured (capture time to the moment the sinks got the frame), never estimated.
Samples live in bounded windows, so a long run uses constant memory; totals are exact, and
the whole run's latency percentiles come from a histogram (``LatencyLog``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np

from realtime.pipeline.latency import LatencyLog


def percentiles(values: Iterable[float]) -> dict[str, float]:
    arr = np.fromiter(values, dtype=np.float64)
    if arr.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    p50, p95 = np.percentile(arr, [50, 95])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "n": int(arr.size)}


FACES_KEPT = 1 << 16  # per-frame face counts held (36 minutes at 30 fps; 1 MiB)


def faces_summary(counts: np.ndarray) -> dict[str, float]:
    """Faces found and swapped per frame (mean, min) of an (N, 2) array of counts."""
    if counts.size == 0:
        return {"found_mean": 0.0, "found_min": 0, "swapped_mean": 0.0, "swapped_min": 0, "frames": 0}
    return {
        "found_mean": round(float(counts[:, 0].mean()), 3),
        "found_min": int(counts[:, 0].min()),
        "swapped_mean": round(float(counts[:, 1].mean()), 3),
        "swapped_min": int(counts[:, 1].min()),
        "frames": len(counts),
    }


class Stats:
    """Thread-safe counters and timing windows for one pipeline run."""

    def __init__(self, window: int = 2000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._stage_ms: dict[str, deque[float]] = {}
        self._latency_ms: deque[float] = deque(maxlen=window)
        self._latency_all = LatencyLog()  # the whole run, in constant memory
        self._in_times: deque[float] = deque(maxlen=120)
        self._out_times: deque[float] = deque(maxlen=120)
        self.started_at = time.monotonic()
        self.first_output_at: float | None = None
        self.first_output_unix: float | None = None
        self.captured = 0
        self.processed = 0
        self.repeated = 0
        self.errors: dict[str, int] = {}
        self.info: dict[str, Any] = {}
        # Per output frame: (faces found, faces swapped), numbered like the latency samples.
        self._faces: deque[tuple[int, int]] = deque(maxlen=FACES_KEPT)
        self._faces_count = 0
        self.frames_missing_faces = 0  # frames in which a face was found but not swapped

    def stage(self, name: str, ms: float) -> None:
        with self._lock:
            q = self._stage_ms.get(name)
            if q is None:
                q = self._stage_ms[name] = deque(maxlen=self._window)
            q.append(ms)

    def captured_one(self, now: float) -> None:
        with self._lock:
            self.captured += 1
            self._in_times.append(now)

    def output_one(self, captured_at: float, now: float, faces: int = 0, swapped: int = 0) -> None:
        """One frame left the pipeline; ``faces`` found in it and ``swapped`` of them."""
        with self._lock:
            self.processed += 1
            self._faces.append((faces, swapped))
            self._faces_count += 1
            if swapped < faces:
                self.frames_missing_faces += 1
            lat = (now - captured_at) * 1000.0
            self._latency_ms.append(lat)
            self._latency_all.add(lat)
            self._out_times.append(now)
            if self.first_output_at is None:
                self.first_output_at = now
                self.first_output_unix = time.time()

    def error(self, where: str) -> int:
        with self._lock:
            self.errors[where] = self.errors.get(where, 0) + 1
            return self.errors[where]

    @staticmethod
    def _fps(times: deque[float]) -> float:
        if len(times) < 2:
            return 0.0
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else 0.0

    def latency_count(self) -> int:
        """How many latency samples were recorded (sample numbers run from 0 to this)."""
        with self._lock:
            return self._latency_all.count

    def latencies(self, since: int = 0, until: int | None = None) -> list[float]:
        """Latency samples (ms) numbered ``since`` to ``until`` (exclusive), oldest first.

        Only the most recent ``LatencyLog.capacity`` samples are held (73 minutes at 30 fps);
        take a window by sample numbers from ``latency_count()``, not by list length.
        """
        with self._lock:
            return self._latency_all.recent(since, until).tolist()

    def face_count(self) -> int:
        """How many frames' face counts were recorded (numbers for ``face_counts``)."""
        with self._lock:
            return self._faces_count

    def face_counts(self, since: int = 0) -> np.ndarray:
        """(N, 2) int array of (faces found, faces swapped) per output frame numbered from
        ``since`` on (only the last ``FACES_KEPT`` are held)."""
        with self._lock:
            first = self._faces_count - len(self._faces)
            rows = list(self._faces)[max(0, since - first) :]
        return np.asarray(rows, np.int64).reshape(-1, 2)

    def snapshot(self, dropped: int = 0, in_flight: int = 0) -> dict[str, Any]:
        with self._lock:
            elapsed = time.monotonic() - self.started_at
            return {
                "elapsed_s": round(elapsed, 3),
                "captured": self.captured,
                "processed": self.processed,
                "dropped": dropped,
                "in_flight": in_flight,
                "repeated": self.repeated,
                "fps_in": round(self._fps(self._in_times), 2),
                "fps_out": round(self._fps(self._out_times), 2),
                "mean_fps_out": round(self.processed / elapsed, 2) if elapsed > 0 else 0.0,
                "latency_ms": percentiles(self._latency_ms),
                "latency_ms_run": self._latency_all.summary(),
                "stages_ms": {k: percentiles(v) for k, v in sorted(self._stage_ms.items())},
                "faces": faces_summary(np.asarray(list(self._faces)[-120:], np.int64).reshape(-1, 2)),
                "frames_missing_faces": self.frames_missing_faces,
                "errors": dict(self.errors),
                "startup_s": (
                    round(self.first_output_at - self.started_at, 3) if self.first_output_at else None
                ),
                "first_output_unix": self.first_output_unix,
                **self.info,
            }
