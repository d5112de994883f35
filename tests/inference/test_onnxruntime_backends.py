"""ONNX Runtime backends: provider options, threads, run strategies, probes with fakes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.catalog.manifest import BUNDLED_DIR
from realtime.errors import ConfigError
from realtime.inference import cuda as C
from realtime.inference import onnxruntime as O
from realtime.inference import ort_probe as OPR
from realtime.inference import ort_providers as OP
from realtime.inference.session import SessionOptions

DETECTOR = BUNDLED_DIR / "face_detection_short_range.onnx"
LANDMARKS = BUNDLED_DIR / "face_landmark.onnx"
RTX = C.CudaDevice(0, "NVIDIA GeForce RTX 3060", (8, 6), 12288)
GTX1660 = C.CudaDevice(0, "NVIDIA GeForce GTX 1660", (7, 5), 6144)
TABLE = C.load_driver_table()


def providers(name: str, tmp_path: Path, **kw) -> dict[str, dict[str, str]]:
    opts = kw.pop("options", SessionOptions())
    return dict(OP.provider_list(name, opts, cache_root=tmp_path, threads=kw.pop("threads", 1), **kw))


def test_cpu_is_cpu_only(tmp_path: Path) -> None:
    assert OP.provider_list("cpu", SessionOptions(), cache_root=tmp_path, threads=1) == [
        ("CPUExecutionProvider", {})
    ]


def test_cuda_options_and_cuda_graphs(tmp_path: Path) -> None:
    plain = providers("cuda", tmp_path)
    assert list(plain) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert "enable_cuda_graph" not in plain["CUDAExecutionProvider"]
    graph = providers("cuda", tmp_path, cuda_graph=True, options=SessionOptions(device_id=1))
    assert graph["CUDAExecutionProvider"]["enable_cuda_graph"] == "1"
    assert graph["CUDAExecutionProvider"]["device_id"] == "1"


def test_ort_tensorrt_caches_live_under_the_engine_cache(tmp_path: Path) -> None:
    gpu = OP.GpuFacts(RTX, "10.3.0")
    got = providers("ort-tensorrt", tmp_path, gpu=gpu, options=SessionOptions(workspace_mb=512))
    assert list(got) == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt = got["TensorrtExecutionProvider"]
    engine_dir = Path(trt["trt_engine_cache_path"])
    assert engine_dir.parent == tmp_path / "ort-tensorrt"
    assert "sm86" in engine_dir.name and "trt10.3.0" in engine_dir.name and "fp16" in engine_dir.name
    assert trt["trt_timing_cache_path"] == trt["trt_engine_cache_path"]
    assert trt["trt_engine_cache_enable"] == trt["trt_timing_cache_enable"] == "1"
    assert trt["trt_fp16_enable"] == "1"
    assert trt["trt_max_workspace_size"] == str(512 << 20)
    # Another TensorRT version or a GTX 16xx (FP32) never shares the engine directory.
    other = providers("ort-tensorrt", tmp_path, gpu=OP.GpuFacts(RTX, "10.4.0"))
    assert other["TensorrtExecutionProvider"]["trt_engine_cache_path"] != trt["trt_engine_cache_path"]
    gtx = providers("ort-tensorrt", tmp_path, gpu=OP.GpuFacts(GTX1660, "10.3.0"))
    assert gtx["TensorrtExecutionProvider"]["trt_fp16_enable"] == "0"


def test_directml_coreml_openvino_options(tmp_path: Path) -> None:
    assert providers("directml", tmp_path)["DmlExecutionProvider"] == {"device_id": "0"}
    assert providers("coreml", tmp_path)["CoreMLExecutionProvider"]["ModelFormat"] == "MLProgram"
    ov = providers("openvino", tmp_path, threads=2, environ={})["OpenVINOExecutionProvider"]
    assert ov["num_of_threads"] == "2" and ov["cache_dir"] == str(tmp_path / "openvino")
    assert ov["device_type"] == "AUTO:GPU,CPU"
    env = {OP.ENV_OPENVINO_DEVICE: "CPU"}
    assert providers("openvino", tmp_path, environ=env)["OpenVINOExecutionProvider"]["device_type"] == "CPU"
    with pytest.raises(ConfigError):
        OP.provider_list("vulkan", SessionOptions(), cache_root=tmp_path, threads=1)


def test_session_options_directml_disables_memory_pattern() -> None:
    assert OP.session_options("directml", 1).enable_mem_pattern is False
    so = OP.session_options("cpu", 2)
    assert so.enable_mem_pattern is True and so.intra_op_num_threads == 2 and so.inter_op_num_threads == 1


def test_resolve_threads() -> None:
    assert OP.resolve_threads(1, {}) == 1
    assert OP.resolve_threads(4, {"OMP_NUM_THREADS": "2"}) == 2
    assert OP.resolve_threads(1, {"OMP_NUM_THREADS": "8"}) == 1
    assert OP.resolve_threads(1, {"REALTIME_ORT_THREADS": "3", "OMP_NUM_THREADS": "1"}) == 3
    with pytest.raises(ConfigError, match="REALTIME_ORT_THREADS"):
        OP.resolve_threads(1, {"REALTIME_ORT_THREADS": "many"})
    with pytest.raises(ConfigError, match="OMP_NUM_THREADS"):
        OP.resolve_threads(1, {"OMP_NUM_THREADS": "0"})


def test_session_uses_the_thread_count_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("REALTIME_ORT_THREADS", "2")
    sess = O.OrtSession(DETECTOR, SessionOptions(threads=1))
    assert sess.threads == 2


@pytest.mark.parametrize("binding", ["io", "graph"])
def test_io_binding_and_fixed_buffers_match_plain_run(binding: str) -> None:
    """The CUDA run paths, exercised on the CPU device: same numbers as ``run``."""
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 192, 192)).astype(np.float32)
    plain = O.OrtSession(LANDMARKS, SessionOptions(), binding="none")
    bound = O.OrtSession(LANDMARKS, SessionOptions(), binding=binding, device="cpu")
    assert bound.binding == binding
    want = plain.run({plain.inputs[0].name: x})
    for scale in (1.0, 0.5):  # fixed buffers must be updated in place on every run
        want = plain.run({plain.inputs[0].name: x * scale})
        got = bound.run({bound.inputs[0].name: x * scale})
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)
    if binding == "graph":
        with pytest.raises(ValueError, match="shape"):
            bound.run({bound.inputs[0].name: np.zeros((1, 3, 64, 64), np.float32)})


def test_warm_up_runs_zeros() -> None:
    sess = O.OrtSession(DETECTOR, SessionOptions())
    feeds_seen: list[dict[str, np.ndarray]] = []
    outputs: list[dict[str, np.ndarray]] = []
    real_run = sess.run

    def recording_run(feeds):
        feeds_seen.append(dict(feeds))
        outputs.append(real_run(feeds))
        return outputs[-1]

    sess.run = recording_run  # type: ignore[method-assign]
    sess.warm_up()
    assert len(feeds_seen) == 1
    assert sorted(feeds_seen[0]) == sorted(t.name for t in sess.inputs)
    for t in sess.inputs:
        x = feeds_seen[0][t.name]
        assert x.dtype == np.float32 and x.shape == (1, 3, 128, 128) and not x.any()
    assert sorted(outputs[0]) == sorted(t.name for t in sess.outputs)
    assert all(np.isfinite(v).all() for v in outputs[0].values())


def test_provider_that_did_not_start_is_detected() -> None:
    with (
        pytest.warns(UserWarning),
        pytest.raises(O.ProviderNotActive, match="CUDAExecutionProvider did not start"),
    ):
        O.OrtSession(
            DETECTOR, SessionOptions(), [("CUDAExecutionProvider", {}), ("CPUExecutionProvider", {})]
        )


def test_run_lock_serialises_runs() -> None:
    lock = threading.Lock()
    sess = O.OrtSession(DETECTOR, SessionOptions(), run_lock=lock)
    feeds = {"input": np.zeros((1, 3, 128, 128), np.float32)}
    done = threading.Event()
    lock.acquire()
    t = threading.Thread(target=lambda: (sess.run(feeds), done.set()))
    t.start()
    time.sleep(0.2)
    assert not done.is_set()  # blocked while another session holds the lock
    lock.release()
    t.join(5)
    assert done.is_set()


def test_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    from realtime.errors import ModelError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 this is not protobuf" * 10)
    with pytest.raises(ModelError, match="corrupt"):
        O.OrtSession(bad, SessionOptions())


# --- probes ----------------------------------------------------------------------------------

GPU_ORT = OPR.OrtFacts(
    True,
    "onnxruntime-gpu",
    "1.22.0",
    "12.8",
    ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
)
CPU_ORT = OPR.OrtFacts(True, "onnxruntime", "1.22.0", "", ("CPUExecutionProvider",))
SPEC = {s.name: s for s in OP.ORT_BACKENDS}
WITH_GPU = C.CudaDriverState("libcuda.so.1", "12.8", (RTX,))
NO_DRIVER = C.CudaDriverState(None, None, (), "the NVIDIA driver library (libcuda) was not found")


def probe(name: str, facts: OPR.OrtFacts, *, state=WITH_GPU, driver="570.86.10", trt_libs=None):
    return OPR.probe_ort_backend(
        SPEC[name],
        facts,
        driver=lambda: state,
        driver_version=lambda: driver,
        trt_libs=lambda: trt_libs,
        table=TABLE,
        system="Linux",
    )


def test_probe_cpu_build_lacks_gpu_providers_quietly() -> None:
    p = probe("cuda", CPU_ORT)
    assert p is not None and not p.installed and "realtime-faceswap[gpu]" in p.fix
    assert probe("cpu", CPU_ORT) is None
    d = probe("directml", CPU_ORT)
    assert d is not None and "realtime-faceswap[directml]" in d.fix


def test_probe_missing_onnxruntime() -> None:
    p = probe("cpu", OPR.OrtFacts(False, "", "", "", ()))
    assert p is not None and "not installed" in p.reason and "realtime-faceswap[cpu]" in p.fix


def test_probe_gpu_build_without_driver_warns_with_minimum_driver() -> None:
    p = probe("cuda", GPU_ORT, state=NO_DRIVER)
    assert p is not None and p.installed and "525.60.13" in p.fix and "570.26" in p.fix


def test_probe_gpu_build_with_old_driver() -> None:
    p = probe("cuda", GPU_ORT, driver="470.82.01")
    assert p is not None and p.installed and "470.82.01 is too old" in p.reason and "525.60.13" in p.fix


def test_probe_ort_tensorrt_needs_tensorrt_libraries() -> None:
    p = probe("ort-tensorrt", GPU_ORT, trt_libs="TensorRT libraries (libnvinfer) were not found")
    assert p is not None and not p.installed and "pip install tensorrt" in p.fix
    assert probe("ort-tensorrt", GPU_ORT) is None
    assert probe("cuda", GPU_ORT) is None


def test_explain_failure_per_backend() -> None:
    assert "cuda-python" not in OPR.explain_failure(SPEC["cuda"], RuntimeError("libcudnn.so.9 missing"))
    assert "cudnn" in OPR.explain_failure(SPEC["cuda"], RuntimeError("libcudnn.so.9 missing")).lower()
    assert "pip install tensorrt" in OPR.explain_failure(
        SPEC["ort-tensorrt"], RuntimeError("libnvinfer.so.10 missing")
    )
    assert "DirectX 12" in OPR.explain_failure(SPEC["directml"], RuntimeError("x"))
    assert OP.ENV_OPENVINO_DEVICE in OPR.explain_failure(SPEC["openvino"], RuntimeError("x"))


def test_this_machine_ort_facts_are_real() -> None:
    facts = OPR.ort_facts()
    assert facts.installed and "CPUExecutionProvider" in facts.providers
