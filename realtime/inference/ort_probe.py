"""Can an ONNX Runtime backend be tried here, and if not, what would fix it; what to do when one
failed to start. The facts probed (``OrtFacts``) are gathered once per probe and replaceable
in tests.
"""

from __future__ import annotations

import ctypes
import importlib.util
import platform
from collections.abc import Callable
from dataclasses import dataclass

from realtime.inference import cuda as cudamod
from realtime.inference.ort_providers import (
    ENV_OPENVINO_DEVICE,
    OrtBackendSpec,
    ort_module,
)
from realtime.inference.session import (
    ProbeResult,
)


@dataclass(frozen=True)
class OrtFacts:
    """What the probes look at; gathered once per probe, replaceable in tests."""

    installed: bool
    package: str
    version: str
    cuda_build: str
    providers: tuple[str, ...]


def ort_facts() -> OrtFacts:
    try:
        ort = ort_module()
    except ImportError:
        return OrtFacts(False, "", "", "", ())
    return OrtFacts(
        True,
        str(getattr(ort, "package_name", "onnxruntime")),
        str(ort.__version__),
        str(getattr(ort, "cuda_version", "") or ""),
        tuple(ort.get_available_providers()),
    )


def tensorrt_libs_error(system: str | None = None) -> str | None:
    """None when TensorRT's libraries can be loaded (for the ORT TensorRT EP), else why not."""
    system = system or platform.system()
    names = (
        ("nvinfer_10.dll", "nvinfer_11.dll")
        if system == "Windows"
        else ("libnvinfer.so.10", "libnvinfer.so.11")
    )
    for name in names:
        try:
            ctypes.CDLL(name)
            return None
        except OSError:
            continue
    if importlib.util.find_spec("tensorrt") is not None:
        try:
            import tensorrt  # noqa: F401  (loads libnvinfer from the tensorrt wheel)

            return None
        except Exception as exc:
            return f"the tensorrt package does not import: {exc}"
    return "TensorRT libraries (libnvinfer) were not found"


def probe_ort_backend(
    spec: OrtBackendSpec,
    facts: OrtFacts,
    *,
    driver: Callable[[], cudamod.CudaDriverState] = cudamod.probe_cuda_driver,
    driver_version: Callable[[], str | None] = cudamod.nvidia_driver_version,
    trt_libs: Callable[[], str | None] = tensorrt_libs_error,
    table: cudamod.DriverTable | None = None,
    system: str | None = None,
) -> ProbeResult | None:
    """Why ``spec`` cannot run here (``None`` when it can be tried)."""
    system = system or platform.system()
    if not facts.installed:
        return ProbeResult(
            "onnxruntime is not installed",
            fix="pip install 'realtime-faceswap[cpu]' (or 'realtime-faceswap[gpu]' with an NVIDIA GPU)",
        )
    if spec.ep not in facts.providers:
        return ProbeResult(f"{facts.package} {facts.version} has no {spec.ep}", fix=spec.install_fix)
    if not spec.needs_nvidia:
        return None
    table = table or cudamod.load_driver_table()
    cuda = facts.cuda_build or table.gpu_extra_cuda
    state = driver()
    if not state.devices:
        return ProbeResult(
            f"{state.error or 'no NVIDIA GPU found'}",
            fix=f"install {table.requirement_text(cuda, system)}, or use another provider",
            installed=spec.name == "cuda",
        )
    version = driver_version()
    if version and table.driver_too_old(version, cuda, system):
        return ProbeResult(
            f"NVIDIA driver {version} is too old for the CUDA {cudamod.cuda_major(cuda)}.x build "
            f"of {facts.package}",
            fix=f"install {table.requirement_text(cuda, system)}",
            installed=spec.name == "cuda",
        )
    if spec.name == "ort-tensorrt":
        why = trt_libs()
        if why:
            return ProbeResult(why, fix="pip install tensorrt (TensorRT 10 for CUDA 12)")
    return None


def explain_failure(spec: OrtBackendSpec, exc: BaseException) -> str:
    """The fix for a backend that failed to start."""
    text = str(exc)
    if spec.needs_nvidia:
        if spec.name == "ort-tensorrt" and "nvinfer" in text.lower():
            return "TensorRT libraries were not found: pip install tensorrt"
        facts = ort_facts()
        return cudamod.explain_cuda_failure(
            text,
            driver=cudamod.nvidia_driver_version(),
            cuda=facts.cuda_build or None,
            table=cudamod.load_driver_table(),
        )
    if spec.name == "directml":
        return "update the GPU driver (DirectML needs a DirectX 12 GPU on Windows 10 1903 or later)"
    if spec.name == "openvino":
        return f"set {ENV_OPENVINO_DEVICE}=CPU (or GPU) to pick an OpenVINO device that exists"
    if spec.name == "coreml":
        return "Core ML could not take this model; use --provider cpu"
    return "see `realtime doctor`"
