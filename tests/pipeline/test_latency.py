"""Latency stays bounded: a slow stage drops frames and never builds up delay."""

import json

import numpy as np

from realtime.pipeline import Pipeline, PipelineConfig
from realtime.sources.synthetic import SyntheticSource
from tests.pipeline.fakes import RecordingSink


class Sleep50:
    name = "sleep50"

    def __call__(self, frame):
        import time

        time.sleep(0.05)
        return frame


def test_30fps_source_into_a_50ms_stage_keeps_latency_bounded_for_10s():
    src = SyntheticSource(width=640, height=360, fps=30.0, live=True, precompute=30)
    sink = RecordingSink()
    pipe = Pipeline(src, [Sleep50()], [sink], PipelineConfig())
    stats = pipe.run(duration=10.0)
    lat = np.asarray(pipe.stats.latencies())
    half = lat.size // 2
    first, second = np.percentile(lat[:half], 95), np.percentile(lat[half:], 95)
    print("LATENCY", json.dumps({
        "p50": round(float(np.percentile(lat, 50)), 2), "p95": round(float(np.percentile(lat, 95)), 2),
        "p95_first_half": round(float(first), 2), "p95_second_half": round(float(second), 2),
        "captured": stats["captured"], "processed": stats["processed"], "dropped": stats["dropped"],
    }))  # fmt: skip
    assert np.percentile(lat, 95) < 100.0
    assert second < first * 1.15 + 5.0  # no growth: the second half is no slower than the first
    assert lat.max() < 150.0
    assert stats["captured"] == stats["processed"] + stats["dropped"] and stats["in_flight"] == 0
    assert stats["dropped"] > 0.25 * stats["captured"]  # 20 fps of work on a 30 fps feed: drops
    assert 270 <= stats["captured"] <= 310
