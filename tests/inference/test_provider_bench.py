"""``bench_providers``: real CPU timings, and exact percentiles with a fake clock."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from realtime.catalog.manifest import BUNDLED_DIR
from realtime.errors import ConfigError, ProviderError
from realtime.inference.session import TensorInfo, available_backends
from realtime.jobs.provider_bench import bench_providers

DETECTOR = BUNDLED_DIR / "face_detection_short_range.onnx"


def test_real_cpu_timings_and_unavailable_rows() -> None:
    unavailable = next(n for n, why in available_backends().items() if why is not None)
    report = bench_providers({"blazeface": DETECTOR}, ["cpu", unavailable], runs=5, warmup=1)
    rows = {r["provider"]: r for r in report["results"]}
    cpu = rows["cpu"]
    assert cpu["status"] == "ok" and cpu["runs"] == 5
    assert 0 < cpu["min_ms"] <= cpu["p50_ms"] <= cpu["p95_ms"] <= cpu["max_ms"]
    assert cpu["load_ms"] > 0 and cpu["first_run_ms"] > 0
    assert rows[unavailable]["status"] == "unavailable" and rows[unavailable]["detail"]
    assert report["providers"][unavailable]["available"] is False


def test_default_providers_are_the_usable_ones() -> None:
    report = bench_providers([DETECTOR], runs=1, warmup=0)
    usable = [n for n, why in available_backends().items() if why is None]
    assert [r["provider"] for r in report["results"]] == usable
    assert {r["model"] for r in report["results"]} == {"face_detection_short_range"}


STATIC = (TensorInfo("x", (1, 4), "tensor(float)"),)


class FakeSession:
    def __init__(self, provider: str, inputs: tuple[TensorInfo, ...] = STATIC) -> None:
        self.provider = provider
        self.inputs = inputs
        self.outputs = ()
        self.feeds = []

    def run(self, feeds):
        self.feeds.append(feeds)
        return {}


def test_percentiles_with_a_fake_clock() -> None:
    # The clock only moves inside run(): the first run takes 500 ms, the one warm-up run too,
    # and the ten timed runs take 1, 2, ..., 10 ms.
    now = [0.0]

    def clock() -> float:
        return now[0]

    durations = itertools.chain([0.5, 0.5], (i / 1000 for i in range(1, 11)))

    class Timed(FakeSession):
        def run(self, feeds):
            now[0] += next(durations)
            return {}

    sessions = []

    def open_fn(path, *, prefer, options, label):
        sess = Timed(prefer)
        sessions.append(sess)
        return sess

    report = bench_providers({"m": DETECTOR}, ["cpu"], runs=10, warmup=2, open_fn=open_fn, clock=clock)
    row = report["results"][0]
    assert row["first_run_ms"] == pytest.approx(500)
    assert row["p50_ms"] == pytest.approx(5.5)
    assert row["p95_ms"] == pytest.approx(9.55)
    assert row["min_ms"] == pytest.approx(1) and row["max_ms"] == pytest.approx(10)


def test_failures_and_dynamic_inputs_are_reported_not_raised() -> None:
    def failing(path, *, prefer, options, label):
        raise ProviderError("CUDA out of memory")

    row = bench_providers([DETECTOR], ["cpu"], runs=1, open_fn=failing)["results"][0]
    assert row["status"] == "failed" and "out of memory" in row["detail"]

    dynamic = (TensorInfo("x", (1, 3, "h", "w"), "tensor(float)"),)
    row = bench_providers([DETECTOR], ["cpu"], runs=1, open_fn=lambda p, **k: FakeSession("cpu", dynamic))[
        "results"
    ][0]
    assert row["status"] == "skipped" and "dynamic" in row["detail"]

    seen = []

    def shaped(path, **kw):
        s = FakeSession("cpu", dynamic)
        seen.append(s)
        return s

    row = bench_providers(
        {"m": DETECTOR}, ["cpu"], runs=2, warmup=0, open_fn=shaped, shapes={"m": {"x": (1, 3, 8, 6)}}
    )["results"][0]
    assert row["status"] == "ok" and seen[0].feeds[0]["x"].shape == (1, 3, 8, 6)
    assert seen[0].feeds[0]["x"].dtype == np.float32

    row = bench_providers([DETECTOR], ["cpu"], runs=1, open_fn=lambda p, **k: FakeSession("litert"))[
        "results"
    ][0]
    assert row["status"] == "failed" and "not cpu" in row["detail"]


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        bench_providers([DETECTOR], ["vulkan"], runs=1)
    with pytest.raises(ConfigError):
        bench_providers([DETECTOR], ["cpu"], runs=0)
    assert bench_providers([Path("/nonexistent.onnx")], ["cpu"], runs=1)["results"][0]["status"] == "failed"


def test_manifest_specs_as_the_bench_subcommand_passes_them() -> None:
    from realtime.catalog.manifest import load_manifests

    specs = [s for s in load_manifests().values() if s.bundled and s.file.endswith(".onnx")]
    report = bench_providers(specs, ["cpu"], runs=2, warmup=0)
    rows = {r["model"]: r for r in report["results"]}
    assert set(rows) == {s.name for s in specs}
    assert all(r["status"] == "ok" and r["p50_ms"] > 0 for r in rows.values())
