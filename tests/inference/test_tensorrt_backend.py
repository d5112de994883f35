"""Native TensorRT against a fake ``tensorrt`` module and fake device memory.

The fake builder records the builder configuration (FP16 flag, workspace, profiles, timing
cache) into the "engine", and the fake execution context reads and writes the fake device
buffers, so the session's real code runs end to end: engine key and cache, buffer
allocation, ``execute_async_v3`` on a stream, and the copies in and out. A real GPU test runs
only where an NVIDIA GPU is found.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from realtime.catalog.manifest import BUNDLED_DIR
from realtime.errors import ConfigError
from realtime.inference import cuda as C
from realtime.inference import tensorrt as T
from realtime.inference import tensorrt_engine as TE
from realtime.inference.engines import EngineCache
from realtime.inference.session import SessionOptions
from tests.gpu import needs_gpu

RTX = C.CudaDevice(0, "NVIDIA GeForce RTX 3060", (8, 6), 12288)
GTX1660 = C.CudaDevice(0, "NVIDIA GeForce GTX 1660", (7, 5), 6144)


class FakeMemory:
    """``DeviceMemory`` on host bytearrays; counts allocations and stream use."""

    name = "fake"

    def __init__(self) -> None:
        self.buffers: dict[int, np.ndarray] = {}
        self.next = 0x1000
        self.allocs = 0
        self.synced: list[int] = []

    def alloc(self, nbytes: int) -> int:
        ptr = self.next
        self.next += nbytes + 256
        self.buffers[ptr] = np.zeros(nbytes, np.uint8)
        self.allocs += 1
        return ptr

    def free(self, ptr: int) -> None:
        del self.buffers[ptr]

    def create_stream(self) -> int:
        return 77

    def upload(self, dst: int, src: np.ndarray, stream: int) -> None:
        assert stream == 77
        raw = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
        self.buffers[dst][: raw.size] = raw

    def download(self, dst: np.ndarray, src: int, stream: int) -> None:
        assert stream == 77
        raw = dst.reshape(-1).view(np.uint8)
        raw[:] = self.buffers[src][: raw.size]

    def synchronize(self, stream: int) -> None:
        self.synced.append(stream)


def make_trt(
    memory: FakeMemory,
    inputs: dict[str, tuple[int, ...]],
    *,
    version: str = "10.3.0",
    fp16_flag: bool = True,
    build_id: str = "a",
):
    """A fake ``tensorrt`` module whose engines compute y = 2 * x for one input x.

    Its runtime refuses engines serialised by another ``build_id`` (like a real TensorRT
    refusing another build's engine) by returning None."""
    trt = types.SimpleNamespace(__version__=version, built=[], timing_seen=[])
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level=None: None})
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    trt.BuilderFlag = types.SimpleNamespace(**({"FP16": "fp16"} if fp16_flag else {"TF32": "tf32"}))
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    trt.nptype = lambda dtype: np.float32

    class Tensor:
        def __init__(self, name, shape):
            self.name, self.shape = name, shape

    class Network:
        def __init__(self):
            self.num_inputs = len(inputs)
            self._inputs = [Tensor(n, s) for n, s in inputs.items()]

        def get_input(self, i):
            return self._inputs[i]

    class Parser:
        def __init__(self, network, logger):
            self.num_errors = 0

        def parse_from_file(self, path):
            return Path(path).is_file()

    class TimingCache:
        def __init__(self, data):
            self.data = data

        def serialize(self):
            return self.data + b"+"

    class Config:
        def __init__(self):
            self.flags, self.profiles, self.workspace, self.cache = [], [], None, None

        def set_memory_pool_limit(self, pool, size):
            self.workspace = size

        def set_flag(self, flag):
            self.flags.append(flag)

        def add_optimization_profile(self, p):
            self.profiles.append(p.shapes)

        def create_timing_cache(self, data):
            trt.timing_seen.append(bytes(data))
            return TimingCache(bytes(data))

        def set_timing_cache(self, cache, ignore_mismatch):
            self.cache = cache

        def get_timing_cache(self):
            return self.cache

    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, lo, opt, hi):
            self.shapes[name] = [list(lo), list(opt), list(hi)]

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            return Network()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            doc = {
                "version": version,
                "build_id": build_id,
                "inputs": {n: list(s) for n, s in inputs.items()},
                "flags": config.flags,
                "workspace": config.workspace,
                "profiles": config.profiles,
            }
            trt.built.append(doc)
            return json.dumps(doc).encode()

    class Context:
        def __init__(self, engine):
            self.engine = engine
            self.shapes = {n: list(s) for n, s in engine.doc["inputs"].items()}
            self.addresses = {}
            self.executed = 0

        def set_input_shape(self, name, shape):
            self.shapes[name] = list(shape)
            return True

        def set_tensor_address(self, name, ptr):
            self.addresses[name] = ptr

        def get_tensor_shape(self, name):
            return self.shapes["x" if name == "y" else name]

        def execute_async_v3(self, stream):
            assert stream == 77
            shape = self.shapes["x"]
            n = int(np.prod(shape)) * 4
            x = memory.buffers[self.addresses["x"]][:n].view(np.float32)
            memory.buffers[self.addresses["y"]][:n] = (x * 2).view(np.uint8)
            self.executed += 1
            return True

    class Engine:
        def __init__(self, doc):
            self.doc = doc
            self.num_io_tensors = 2
            self.contexts = []

        def get_tensor_name(self, i):
            return ["x", "y"][i]

        def get_tensor_mode(self, name):
            return "in" if name == "x" else "out"

        def get_tensor_shape(self, name):
            return self.doc["inputs"]["x"]

        def get_tensor_dtype(self, name):
            return "float"

        def get_tensor_profile_shape(self, name, index):
            return self.doc["profiles"][0][name]

        def create_execution_context(self):
            ctx = Context(self)
            self.contexts.append(ctx)
            return ctx

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            doc = json.loads(bytes(data))
            return Engine(doc) if (doc["version"], doc["build_id"]) == (version, build_id) else None

    trt.Builder, trt.OnnxParser, trt.Runtime = Builder, Parser, Runtime
    return trt


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"fake onnx model")
    return path


def test_static_model_builds_fp16_engine_once_and_runs(tmp_path: Path, model: Path) -> None:
    mem = FakeMemory()
    trt = make_trt(mem, {"x": (1, 3, 4, 4)})
    cache = EngineCache(tmp_path / "engines")
    opts = SessionOptions(workspace_mb=64)
    sess = T.TensorRTSession(model, opts, trt=trt, memory=mem, device=RTX, cache=cache)
    assert sess.provider == "tensorrt" and sess.precision == "fp16"
    assert trt.built[0]["flags"] == ["fp16"] and trt.built[0]["workspace"] == 64 << 20
    assert trt.built[0]["profiles"] == []  # static shapes need no profile
    assert sess.inputs[0].shape == (1, 3, 4, 4) and sess.inputs[0].dtype == "tensor(float)"
    allocs = mem.allocs
    x = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4)
    for _ in range(3):
        out = sess.run({"x": x})
        np.testing.assert_array_equal(out["y"], x * 2)
    assert mem.allocs == allocs == 2  # buffers allocated once
    assert mem.synced  # every run waits on its stream
    with pytest.raises(ValueError, match="shape"):
        sess.run({"x": np.zeros((1, 3, 5, 5), np.float32)})
    # A second session (e.g. the next start) loads the cached engine without building.
    T.TensorRTSession(model, opts, trt=trt, memory=mem, device=RTX, cache=cache)
    assert len(trt.built) == 1


def test_timing_cache_is_reused_by_the_next_build(tmp_path: Path, model: Path) -> None:
    mem = FakeMemory()
    trt = make_trt(mem, {"x": (1, 2)})
    cache = EngineCache(tmp_path)
    T.TensorRTSession(model, SessionOptions(precision="fp32"), trt=trt, memory=mem, device=RTX, cache=cache)
    T.TensorRTSession(model, SessionOptions(precision="fp16"), trt=trt, memory=mem, device=RTX, cache=cache)
    assert trt.timing_seen == [b"", b"+"]  # the second build started from the first one's cache
    assert len(trt.built) == 2


def test_gtx_16xx_builds_fp32(tmp_path: Path, model: Path) -> None:
    mem = FakeMemory()
    trt = make_trt(mem, {"x": (1, 2)})
    sess = T.TensorRTSession(
        model, SessionOptions(), trt=trt, memory=mem, device=GTX1660, cache=EngineCache(tmp_path)
    )
    assert sess.precision == "fp32" and trt.built[0]["flags"] == []
    assert sess.engine_key.precision == "fp32" and sess.engine_key.gpu_name == GTX1660.name


def test_tensorrt_without_fp16_flag_builds_strongly_typed(tmp_path: Path, model: Path) -> None:
    mem = FakeMemory()
    trt = make_trt(mem, {"x": (1, 2)}, version="11.0.0", fp16_flag=False)
    sess = T.TensorRTSession(
        model, SessionOptions(), trt=trt, memory=mem, device=RTX, cache=EngineCache(tmp_path)
    )
    assert sess.precision == "fp32" and trt.built[0]["flags"] == []


def test_dynamic_batch_gets_a_profile_and_runs_each_size(tmp_path: Path, model: Path) -> None:
    mem = FakeMemory()
    trt = make_trt(mem, {"x": (-1, 3)})
    opts = SessionOptions(max_batch=4)
    sess = T.TensorRTSession(model, opts, trt=trt, memory=mem, device=RTX, cache=EngineCache(tmp_path))
    assert trt.built[0]["profiles"] == [{"x": [[1, 3], [1, 3], [4, 3]]}]
    assert sess.inputs[0].shape == (None, 3)
    allocs = mem.allocs
    for n in (1, 4, 2):
        x = np.full((n, 3), float(n), np.float32)
        np.testing.assert_array_equal(sess.run({"x": x})["y"], x * 2)
    assert mem.allocs == allocs  # sized once for the largest batch
    with pytest.raises(ValueError, match="outside the engine's range"):
        sess.run({"x": np.zeros((5, 3), np.float32)})
    assert sess.engine_key.profile  # a non-default profile is part of the key


def test_engine_from_another_tensorrt_is_rebuilt(tmp_path: Path, model: Path) -> None:
    cache = EngineCache(tmp_path)
    old_mem = FakeMemory()
    old = make_trt(old_mem, {"x": (1, 2)}, build_id="old")
    T.TensorRTSession(model, SessionOptions(), trt=old, memory=old_mem, device=RTX, cache=cache)
    # Same version string and key, different build: the runtime refuses the cached engine.
    mem = FakeMemory()
    new = make_trt(mem, {"x": (1, 2)}, build_id="new")
    sess = T.TensorRTSession(model, SessionOptions(), trt=new, memory=mem, device=RTX, cache=cache)
    assert len(new.built) == 1
    assert sess.run({"x": np.ones((1, 2), np.float32)})["y"].tolist() == [[2.0, 2.0]]


def test_optimisation_profile() -> None:
    assert TE.optimisation_profile([("x", (1, 3, 8, 8))], None) == {}
    assert TE.optimisation_profile([("x", (-1, 3, 8, 8))], None, max_batch=2) == {
        "x": ((1, 3, 8, 8), (1, 3, 8, 8), (2, 3, 8, 8))
    }
    got = TE.optimisation_profile([("x", (-1, 3, -1, -1))], {"x": (2, 3, 64, 48)}, max_batch=1)
    assert got == {"x": ((1, 3, 64, 48), (2, 3, 64, 48), (2, 3, 64, 48))}
    with pytest.raises(ConfigError, match="shapes="):
        TE.optimisation_profile([("x", (1, 3, -1, -1))], None)
    with pytest.raises(ConfigError, match="dims"):
        TE.optimisation_profile([("x", (-1, 3))], {"x": (1, 3, 4)})


def test_profile_digest_changes_with_the_request() -> None:
    assert TE.profile_digest(None, 1) == ""
    a = TE.profile_digest({"x": (1, 3, 64, 64)}, 1)
    assert a and a != TE.profile_digest({"x": (1, 3, 32, 32)}, 1) != TE.profile_digest(None, 2)


def test_probe_tensorrt() -> None:
    gpu = C.CudaDriverState("libcuda.so.1", "12.4", (RTX,))
    none = C.CudaDriverState(None, None, (), "the NVIDIA driver library (libcuda) was not found")
    absent = T.probe_tensorrt(has_tensorrt=False)
    assert absent is not None and not absent.installed and "realtime-faceswap[tensorrt]" in absent.fix
    no_gpu = T.probe_tensorrt(has_tensorrt=True, driver=none)
    assert no_gpu is not None and no_gpu.installed and "580.65.06" in no_gpu.fix
    no_api = T.probe_tensorrt(has_tensorrt=True, driver=gpu, memory_apis=[])
    assert no_api is not None and no_api.installed and no_api.fix == "pip install cuda-python"
    assert T.probe_tensorrt(has_tensorrt=True, driver=gpu, memory_apis=["cuda-python"]) is None


@pytest.mark.gpu
@needs_gpu
def test_real_tensorrt_matches_cpu_on_the_bundled_detector(tmp_path: Path) -> None:
    from realtime.inference.session import available_backends, open_session

    if available_backends()["tensorrt"] is not None:
        pytest.skip(f"native TensorRT unavailable: {available_backends()['tensorrt']}")
    model = BUNDLED_DIR / "face_detection_short_range.onnx"
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    gpu = open_session(model, prefer="tensorrt", options=SessionOptions(precision="fp32", cache_dir=tmp_path))
    cpu = open_session(model, prefer="cpu")
    a, b = gpu.run({"input": x}), cpu.run({"input": x})
    for name in b:
        np.testing.assert_allclose(a[name], b[name], atol=1e-3)
    assert list(tmp_path.glob("*.engine"))


def test_tensorrt_messages_go_to_logging(caplog) -> None:
    import enum
    import logging

    class Severity(enum.Enum):
        ERROR = 1
        WARNING = 2
        INFO = 3

    class ILogger:
        def __init__(self) -> None:
            self.base_initialised = True

    logger = TE.make_logger(types.SimpleNamespace(ILogger=ILogger))
    assert logger.base_initialised
    with caplog.at_level(logging.DEBUG, logger="realtime.inference.tensorrt"):
        logger.log(Severity.WARNING, "weights are fp32")
        logger.log(Severity.INFO, "building")
    levels = {r.getMessage(): r.levelno for r in caplog.records}
    assert levels == {"TensorRT: weights are fp32": logging.WARNING, "TensorRT: building": logging.DEBUG}


def test_engine_key_uses_the_model_hash(tmp_path: Path, model: Path) -> None:
    import hashlib

    mem = FakeMemory()
    sess = T.TensorRTSession(
        model,
        SessionOptions(),
        trt=make_trt(mem, {"x": (1, 2)}),
        memory=mem,
        device=RTX,
        cache=EngineCache(tmp_path),
    )
    assert sess.engine_key.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    known = SessionOptions(model_sha256="f" * 64)
    sess = T.TensorRTSession(
        model, known, trt=make_trt(mem, {"x": (1, 2)}), memory=mem, device=RTX, cache=EngineCache(tmp_path)
    )
    assert sess.engine_key.model_sha256 == "f" * 64
