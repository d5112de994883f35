"""The engine cache with a fake builder: keys, invalidation, corrupt files, two processes."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from realtime.inference import engine_progress as EP
from realtime.inference import engines as E
from realtime.inference.session import BuildEvent

KEY = E.EngineKey(
    model_sha256="ab" * 32,
    gpu_name="NVIDIA GeForce RTX 3060",
    compute_capability="8.6",
    trt_version="10.3.0",
    precision="fp16",
)


class Builder:
    """A fake engine builder that records how often it ran."""

    def __init__(self, payload: bytes = b"engine" * 100) -> None:
        self.calls = 0
        self.payload = payload

    def __call__(self) -> bytes:
        self.calls += 1
        return self.payload + str(self.calls).encode()


def ident(data: bytes) -> bytes:
    return data


def test_key_parts_all_appear_in_the_file_name() -> None:
    name = KEY.filename("inswapper_128")
    for part in ("inswapper_128", "abababab", "nvidia_geforce_rtx_3060", "sm86", "trt10.3.0", "fp16"):
        assert part in name
    assert name.endswith(".engine")


def test_builds_once_then_loads_from_disk(tmp_path: Path) -> None:
    cache = E.EngineCache(tmp_path)
    build = Builder()
    first = cache.get_or_build(KEY, build, ident, label="m")
    second = E.EngineCache(tmp_path).get_or_build(KEY, build, ident, label="m")
    assert build.calls == 1
    assert first == second == build.payload + b"1"
    assert cache.path_for(KEY, "m").is_file()


@pytest.mark.parametrize(
    "change",
    [
        {"model_sha256": "cd" * 32},
        {"gpu_name": "NVIDIA GeForce RTX 4090"},
        {"compute_capability": "8.9"},
        {"trt_version": "10.4.0"},
        {"precision": "fp32"},
        {"profile": "0123456789ab"},
    ],
)
def test_changing_any_key_part_builds_a_new_engine(tmp_path: Path, change: dict) -> None:
    cache = E.EngineCache(tmp_path)
    build = Builder()
    cache.get_or_build(KEY, build, ident)
    other = dataclasses.replace(KEY, **change)
    assert cache.path_for(other) != cache.path_for(KEY)
    cache.get_or_build(other, build, ident)
    assert build.calls == 2
    cache.get_or_build(KEY, build, ident)
    cache.get_or_build(other, build, ident)
    assert build.calls == 2


def _corrupt_truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:-10])


def _corrupt_flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))


def _corrupt_garbage(p: Path) -> None:
    p.write_bytes(b"\x00\x01 not an engine at all")


def _corrupt_empty(p: Path) -> None:
    p.write_bytes(b"")


def _corrupt_foreign_key(p: Path) -> None:
    other = dataclasses.replace(KEY, trt_version="8.6.1")
    p.write_bytes(E.pack(other, b"engine from TensorRT 8"))


@pytest.mark.parametrize(
    "corrupt", [_corrupt_truncate, _corrupt_flip, _corrupt_garbage, _corrupt_empty, _corrupt_foreign_key]
)
def test_corrupt_file_is_rebuilt_not_fatal(tmp_path: Path, corrupt, caplog) -> None:
    cache = E.EngineCache(tmp_path)
    build = Builder()
    cache.get_or_build(KEY, build, ident)
    corrupt(cache.path_for(KEY))
    with caplog.at_level(logging.WARNING, logger="realtime.inference.engines"):
        got = cache.get_or_build(KEY, build, ident)
    assert build.calls == 2
    assert got == build.payload + b"2"
    assert any("rebuilding" in r.getMessage() for r in caplog.records)
    assert E.unpack(cache.path_for(KEY).read_bytes(), KEY) == got  # the file is whole again


def test_engine_rejected_by_the_runtime_is_rebuilt(tmp_path: Path) -> None:
    """An engine from another TensorRT build deserialises to None: rebuild it."""
    cache = E.EngineCache(tmp_path)
    build = Builder()
    cache.get_or_build(KEY, build, ident)
    loads = []

    def picky(data: bytes) -> bytes | None:
        loads.append(data)
        return None if data.endswith(b"1") else data

    assert cache.get_or_build(KEY, build, picky) == build.payload + b"2"
    assert build.calls == 2 and len(loads) == 2


def test_runtime_rejecting_a_fresh_build_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="rejected the engine it just built"):
        E.EngineCache(tmp_path).get_or_build(KEY, Builder(), lambda b: None)


def test_failed_build_leaves_no_file_and_reports_failure(tmp_path: Path) -> None:
    events: list[BuildEvent] = []

    def broken() -> bytes:
        raise RuntimeError("builder crashed")

    cache = E.EngineCache(tmp_path)
    with pytest.raises(RuntimeError, match="builder crashed"):
        cache.get_or_build(KEY, broken, ident, progress=events.append)
    assert not cache.path_for(KEY).exists()
    assert not list(tmp_path.glob(".*.tmp"))
    assert [e.phase for e in events][-1] == "failed"


def test_progress_reports_elapsed_time_while_building(tmp_path: Path) -> None:
    events: list[BuildEvent] = []

    def slow() -> bytes:
        time.sleep(0.35)
        return b"x"

    cache = E.EngineCache(tmp_path)
    ticker = EP.BuildTicker(events.append, "m", interval_s=0.1)
    with ticker:
        slow()
    phases = [e.phase for e in events]
    assert phases[0] == "building" and phases[-1] == "done"
    assert phases.count("building") >= 3
    assert events[-1].elapsed_s >= 0.3
    cache.get_or_build(KEY, slow, ident, label="m", progress=events.append)
    assert events[-1].label == "m"


def test_timing_cache_round_trip(tmp_path: Path) -> None:
    cache = E.EngineCache(tmp_path)
    assert cache.read_timing_cache(KEY) is None
    cache.write_timing_cache(KEY, b"timing")
    assert cache.read_timing_cache(KEY) == b"timing"
    # Shared per GPU and TensorRT version, not per model or precision.
    assert (
        cache.read_timing_cache(dataclasses.replace(KEY, model_sha256="00" * 32, precision="fp32"))
        == b"timing"
    )
    assert cache.read_timing_cache(dataclasses.replace(KEY, trt_version="10.4.0")) is None


def test_entries_list_keys_and_problems(tmp_path: Path) -> None:
    cache = E.EngineCache(tmp_path)
    cache.get_or_build(KEY, Builder(), ident, label="good")
    (tmp_path / "bad.engine").write_bytes(b"garbage")
    entries = {e.path.name: e for e in cache.entries()}
    good = entries[KEY.filename("good")]
    assert good.key is not None and good.key["trt_version"] == "10.3.0" and good.problem is None
    assert entries["bad.engine"].key is None and "magic" in (entries["bad.engine"].problem or "")


def test_default_cache_dir_order(tmp_path: Path, monkeypatch) -> None:
    assert E.default_cache_dir(tmp_path / "x", {}) == tmp_path / "x"
    assert E.default_cache_dir(None, {E.ENV_ENGINE_DIR: str(tmp_path / "env")}) == tmp_path / "env"
    # This source checkout has engines/ next to pyproject.toml.
    repo = Path(E.__file__).resolve().parents[2]
    assert E.default_cache_dir(None, {}) == repo / "engines"


# --- two processes -------------------------------------------------------------------------


def _build_in_process(root: str, counter: str, barrier, results) -> None:
    """Child process: start together with the sibling, build or load the same engine."""

    def build() -> bytes:
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(0.5)  # a slow build, so the other process arrives while it runs
        return hashlib.sha256(b"engine").digest() * 4096

    cache = E.EngineCache(Path(root))
    barrier.wait(timeout=30)
    data = cache.get_or_build(KEY, build, ident, label="shared")
    results.put(hashlib.sha256(data).hexdigest())


def test_two_processes_build_once_and_share_a_valid_engine(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    counter = tmp_path / "builds.txt"
    procs = [
        ctx.Process(target=_build_in_process, args=(str(tmp_path), str(counter), barrier, results))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    digests = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert counter.read_text().count("built") == 1
    expected = hashlib.sha256(hashlib.sha256(b"engine").digest() * 4096).hexdigest()
    assert digests == [expected, expected]
    path = E.EngineCache(tmp_path).path_for(KEY, "shared")
    assert hashlib.sha256(E.unpack(path.read_bytes(), KEY)).hexdigest() == expected
    assert not list(tmp_path.glob(".*.tmp"))


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    waited: list[float] = []
    # fcntl locks belong to an open file description, so a second open in this process
    # contends like another process would.
    with (
        E.file_lock(lock),
        pytest.raises(TimeoutError),
        E.file_lock(lock, on_wait=waited.append, poll_s=0.02, timeout_s=0.2),
    ):
        pass
    assert waited
    with E.file_lock(lock, timeout_s=0.2):
        pass
