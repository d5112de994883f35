"""Provider choice in ``open_session``: order, fallback with one warning, forced providers.

Backends here are fakes registered into an empty registry, so every failure mode (missing
library, old driver, out of memory, a backend that declines a model) can be produced on a
machine without any GPU.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from realtime.catalog.manifest import BUNDLED_DIR
from realtime.errors import ConfigError, ModelError, ProviderError
from realtime.inference import session as S

MODEL = BUNDLED_DIR / "face_detection_short_range.onnx"
ISSUE_ORDER = ["tensorrt", "ort-tensorrt", "cuda", "directml", "coreml", "openvino", "cpu"]


class FakeSession:
    def __init__(self, name: str) -> None:
        self.provider = name
        self.inputs = (S.TensorInfo("x", (1,), "tensor(float)"),)
        self.outputs = (S.TensorInfo("y", (1,), "tensor(float)"),)

    def run(self, feeds):
        return {"y": np.asarray(feeds["x"]) + 1}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """An empty registry (built-ins not loaded); returns a log of factory calls."""
    monkeypatch.setattr(S, "BACKENDS", {})
    monkeypatch.setattr(S, "ORDER", [])
    monkeypatch.setattr(S, "_LOADED", [True])
    monkeypatch.delenv(S.ENV_PROVIDER, raising=False)
    return {"calls": []}


def add(registry, name, rank, *, probe=None, error=None, explain=None):
    """Register a fake backend that works, or raises ``error`` when started."""

    def factory(model: Path, options: S.SessionOptions):
        registry["calls"].append(name)
        if error is not None:
            raise error
        return FakeSession(name)

    S.register_backend(name, factory, lambda: probe, rank=rank, explain=explain)


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_automatic_order_follows_rank_not_registration(registry) -> None:
    add(registry, "cpu", 100)
    add(registry, "cuda", 30)
    add(registry, "tensorrt", 10)
    assert S.ORDER == ["tensorrt", "cuda", "cpu"]
    sess = S.open_session(MODEL)
    assert sess.provider == "tensorrt"
    assert registry["calls"] == ["tensorrt"]


def test_failed_provider_falls_back_with_one_warning_naming_the_fix(registry, caplog) -> None:
    add(registry, "tensorrt", 10, probe=S.ProbeResult("TensorRT is not installed", "pip install tensorrt"))
    add(
        registry,
        "cuda",
        30,
        error=RuntimeError("CUDA driver version is insufficient for CUDA runtime version"),
        explain=lambda exc: "install NVIDIA driver >= 525.60.13",
    )
    add(registry, "cpu", 100)
    with caplog.at_level(logging.INFO, logger="realtime.inference.session"):
        sess = S.open_session(MODEL, label="detector")
    assert sess.provider == "cpu"
    assert registry["calls"] == ["cuda", "cpu"]
    warns = warnings_of(caplog)
    assert len(warns) == 1
    assert "running on cpu" in warns[0]
    assert "cuda" in warns[0] and "insufficient" in warns[0]
    assert "525.60.13" in warns[0]
    # A backend that simply is not installed is not worth a warning.
    assert "tensorrt" not in warns[0]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("available here: cuda, cpu" in m for m in infos)
    assert any("detector: running on cpu" in m for m in infos)


def test_installed_but_unusable_provider_is_part_of_the_warning(registry, caplog) -> None:
    add(
        registry,
        "cuda",
        30,
        probe=S.ProbeResult(
            "NVIDIA driver 470.82 is too old", "install NVIDIA driver >= 525.60.13", installed=True
        ),
    )
    add(registry, "cpu", 100)
    with caplog.at_level(logging.WARNING):
        assert S.open_session(MODEL).provider == "cpu"
    warns = warnings_of(caplog)
    assert len(warns) == 1 and "470.82 is too old" in warns[0] and "525.60.13" in warns[0]
    assert registry["calls"] == ["cpu"]  # an unusable backend is never started


def test_several_failures_still_make_one_warning(registry, caplog) -> None:
    add(
        registry,
        "tensorrt",
        10,
        error=MemoryError("out of memory"),
        explain=lambda e: "close other GPU programs",
    )
    add(registry, "cuda", 30, error=OSError("libcudnn.so.9: cannot open shared object file"))
    add(registry, "cpu", 100)
    with caplog.at_level(logging.WARNING):
        assert S.open_session(MODEL).provider == "cpu"
    warns = warnings_of(caplog)
    assert len(warns) == 1
    assert "tensorrt" in warns[0] and "close other GPU programs" in warns[0] and "libcudnn" in warns[0]


def test_a_backend_that_declines_a_model_is_skipped_quietly(registry, caplog) -> None:
    add(registry, "litert", 90, error=S.ModelNotSupported("no .tflite twin"))
    add(registry, "cpu", 100)
    with caplog.at_level(logging.WARNING):
        assert S.open_session(MODEL).provider == "cpu"
    assert warnings_of(caplog) == []


def test_a_crashing_probe_counts_as_unavailable(registry, caplog) -> None:
    def bad_probe():
        raise RuntimeError("probe exploded")

    S.register_backend("cuda", lambda m, o: FakeSession("cuda"), bad_probe, rank=30)
    add(registry, "cpu", 100)
    with caplog.at_level(logging.WARNING):
        assert S.open_session(MODEL).provider == "cpu"
    assert "probe exploded" in S.available_backends()["cuda"]
    assert len(warnings_of(caplog)) == 1


def test_forced_provider_that_is_not_available_lists_the_available_ones(registry) -> None:
    add(
        registry,
        "cuda",
        30,
        probe=S.ProbeResult(
            "onnxruntime has no CUDAExecutionProvider", "pip install 'realtime-faceswap[gpu]'"
        ),
    )
    add(registry, "openvino", 60)
    add(registry, "cpu", 100)
    with pytest.raises(ProviderError) as err:
        S.open_session(MODEL, prefer="cuda")
    text = str(err.value)
    assert "cuda" in text and "no CUDAExecutionProvider" in text
    assert "available here: openvino, cpu" in text
    assert "realtime-faceswap[gpu]" in text
    assert registry["calls"] == []


def test_forced_unknown_provider_lists_the_known_names(registry) -> None:
    add(registry, "cuda", 30)
    add(registry, "cpu", 100)
    with pytest.raises(ProviderError, match=r"unknown provider vulkan.*choose one of cuda, cpu"):
        S.open_session(MODEL, prefer="vulkan")


def test_forced_provider_that_fails_to_start_does_not_fall_back(registry) -> None:
    add(
        registry,
        "cuda",
        30,
        error=RuntimeError("CUDA out of memory"),
        explain=lambda e: "close other GPU programs",
    )
    add(registry, "cpu", 100)
    with pytest.raises(ProviderError) as err:
        S.open_session(MODEL, prefer="cuda")
    assert "out of memory" in str(err.value) and "close other GPU programs" in str(err.value)
    assert registry["calls"] == ["cuda"]


def test_forced_list_falls_back_within_the_list(registry) -> None:
    add(registry, "tensorrt", 10, error=RuntimeError("boom"))
    add(registry, "cuda", 30)
    add(registry, "cpu", 100)
    assert S.open_session(MODEL, prefer=["tensorrt", "cpu"]).provider == "cpu"
    assert registry["calls"] == ["tensorrt", "cpu"]


def test_environment_variable_forces_and_auto_restores(registry, monkeypatch) -> None:
    add(registry, "cuda", 30)
    add(registry, "cpu", 100)
    monkeypatch.setenv(S.ENV_PROVIDER, "cpu")
    assert S.open_session(MODEL).provider == "cpu"
    monkeypatch.setenv(S.ENV_PROVIDER, "auto")
    assert S.open_session(MODEL).provider == "cuda"
    # An explicit prefer wins over the environment.
    monkeypatch.setenv(S.ENV_PROVIDER, "cpu")
    assert S.open_session(MODEL, prefer="cuda").provider == "cuda"


def test_resolve_prefer() -> None:
    assert S.resolve_prefer(None, {}) is None
    assert S.resolve_prefer("auto", {}) is None
    assert S.resolve_prefer(None, {"REALTIME_PROVIDER": "cuda, cpu"}) == ["cuda", "cpu"]
    assert S.resolve_prefer(["tensorrt"], {"REALTIME_PROVIDER": "cpu"}) == ["tensorrt"]


def test_nothing_works_is_one_provider_error_with_a_fix(registry) -> None:
    add(
        registry,
        "cuda",
        30,
        error=RuntimeError("no CUDA-capable device"),
        explain=lambda e: "check nvidia-smi",
    )
    add(
        registry,
        "cpu",
        100,
        probe=S.ProbeResult("onnxruntime is not installed", "pip install 'realtime-faceswap[cpu]'"),
    )
    with pytest.raises(ProviderError) as err:
        S.open_session(MODEL)
    assert "no provider could run" in str(err.value)
    assert "check nvidia-smi" in str(err.value)


def test_model_and_config_errors_are_not_swallowed_by_fallback(registry) -> None:
    add(registry, "cuda", 30, error=ModelError("model file is corrupt"))
    add(registry, "cpu", 100)
    with pytest.raises(ModelError):
        S.open_session(MODEL)
    with pytest.raises(ModelError, match="not found"):
        S.open_session(Path("/nonexistent/model.onnx"))


def test_config_error_from_a_backend_propagates(registry) -> None:
    add(registry, "cuda", 30, error=ConfigError("bad precision"))
    add(registry, "cpu", 100)
    with pytest.raises(ConfigError):
        S.open_session(MODEL)


# --- the real registry --------------------------------------------------------------------


def test_real_registry_has_every_name_in_the_issue_order() -> None:
    names = S.provider_names()
    positions = [names.index(n) for n in ISSUE_ORDER]
    assert positions == sorted(positions)


def test_real_cpu_session_runs_the_bundled_detector() -> None:
    sess = S.open_session(MODEL, prefer="cpu", options=S.SessionOptions(threads=1))
    assert isinstance(sess, S.InferenceSession)
    assert sess.provider == "cpu"
    out = sess.run({"input": np.zeros((1, 3, 128, 128), np.float32)})
    assert out["regressors"].shape == (1, 896, 16)


def test_real_forced_gpu_provider_on_this_machine_says_what_is_available() -> None:
    if S.available_backends()["cuda"] is None:
        pytest.skip("CUDA is available here")
    with pytest.raises(ProviderError) as err:
        S.open_session(MODEL, prefer="cuda")
    assert "available here:" in str(err.value) and "cpu" in str(err.value)
