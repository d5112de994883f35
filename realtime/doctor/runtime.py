"""``realtime doctor``'s probes of the machine and its inference runtimes: OS, CPU and memory,
NVIDIA GPUs and driver, CUDA and cuDNN, TensorRT, ONNX Runtime, and which backends can run.

Each probe returns a plain, JSON-ready dict, never raises for a missing piece (that is a fact
to report), and can be replaced by a fake in ``realtime.doctor.probes.Probes``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from realtime.inference import cuda as cudamod
from realtime.inference.engines import tensorrt_version
from realtime.inference.session import BACKENDS, ORDER, ProbeResult, probe_backends

log = logging.getLogger(__name__)

ORT_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-silicon",
    "onnxruntime-qnn",
)


def _first_line(text: str) -> str:
    return " ".join(text.strip().split("\n")[0].split())


def probe_system() -> dict[str, Any]:
    """OS, Python, CPU, RAM and /dev/shm."""
    shm_mb = None
    if Path("/dev/shm").is_dir():
        try:
            shm_mb = shutil.disk_usage("/dev/shm").total // (1 << 20)
        except OSError:
            shm_mb = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "os": platform.system(),
        "os_release": platform.release(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count() or 1,
        "cpu_usable": affinity or 1,
        "ram_mb": _ram_mb(),
        "shm_mb": shm_mb,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_mb() -> int | None:
    if importlib.util.find_spec("psutil") is not None:
        # Optional dependency.
        import psutil

        return int(psutil.virtual_memory().total // (1 << 20))
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20))
    except (ValueError, OSError, AttributeError):
        return None


def probe_gpus(
    run_smi: Callable[[Sequence[str]], str] | None = None,
    driver_api: Callable[[], cudamod.CudaDriverState] = cudamod.probe_cuda_driver,
) -> dict[str, Any]:
    """NVIDIA GPUs and the driver: NVML when pynvml imports, else nvidia-smi."""
    state = driver_api()
    out: dict[str, Any] = {
        "source": "none",
        "driver": None,
        "cuda_driver_api": state.cuda_version,
        "gpus": [],
        "why_none": None,
    }
    tried = []
    if importlib.util.find_spec("pynvml") is not None:
        try:
            out.update(_nvml_gpus())
            return out
        except Exception as exc:  # NVML raises its own error types
            tried.append(f"NVML: {exc}")
    else:
        tried.append("pynvml is not installed")
    run_smi = run_smi or cudamod._run_nvidia_smi
    try:
        out.update(_smi_gpus(run_smi))
        return out
    except FileNotFoundError:
        tried.append("nvidia-smi not found")
    except (OSError, subprocess.SubprocessError) as exc:
        tried.append(f"nvidia-smi failed: {exc}")
    if state.error:
        tried.append(state.error)
    out["why_none"] = "; ".join(tried)
    return out


def _nvml_gpus() -> dict[str, Any]:
    # Optional (NVIDIA only).
    import pynvml

    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    pynvml.nvmlInit()
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(h)
            gpus.append(
                {
                    "index": i,
                    "name": text(pynvml.nvmlDeviceGetName(h)),
                    "memory_mb": int(pynvml.nvmlDeviceGetMemoryInfo(h).total // (1 << 20)),
                    "compute_capability": f"{major}.{minor}",
                }
            )
        return {"source": "nvml", "driver": text(pynvml.nvmlSystemGetDriverVersion()), "gpus": gpus}
    finally:
        pynvml.nvmlShutdown()


def _smi_gpus(run_smi: Callable[[Sequence[str]], str]) -> dict[str, Any]:
    fields = "name,driver_version,memory.total,compute_cap"
    try:
        raw = run_smi([f"--query-gpu={fields}", "--format=csv,noheader,nounits"])
    except subprocess.CalledProcessError:  # drivers before ~510 lack compute_cap
        raw = run_smi(["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    driver = None
    for i, line in enumerate(r for r in raw.splitlines() if r.strip()):
        cols = [c.strip() for c in line.split(",")]
        driver = driver or (cols[1] if len(cols) > 1 else None)
        mem = int(float(cols[2])) if len(cols) > 2 and re.fullmatch(r"[\d.]+", cols[2]) else None
        cc = cols[3] if len(cols) > 3 and re.fullmatch(r"\d+\.\d+", cols[3]) else None
        gpus.append({"index": i, "name": cols[0], "memory_mb": mem, "compute_capability": cc})
    return {"source": "nvidia-smi", "driver": driver, "gpus": gpus}


def _ctypes_version(names: Sequence[str], func: str, decode: Callable[[int], str]) -> str | None:
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            fn = getattr(lib, func)
            if func == "cudnnGetVersion":
                fn.restype = ctypes.c_size_t
                return decode(int(fn()))
            value = ctypes.c_int(0)
            if fn(ctypes.byref(value)) == 0:
                return decode(value.value)
        except (AttributeError, OSError):
            continue
    return None


def _dist_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _cudnn_text(v: int) -> str:
    if v >= 90000:
        return f"{v // 10000}.{(v % 10000) // 100}.{v % 100}"
    return f"{v // 1000}.{(v % 1000) // 100}.{v % 100}"


def probe_cuda() -> dict[str, Any]:
    """CUDA runtime and cuDNN visible to this process, and what onnxruntime was built with."""
    win = platform.system() == "Windows"
    ort_cuda = None
    if importlib.util.find_spec("onnxruntime") is not None:
        try:
            # Heavy: loaded only when the doctor asks it.
            import onnxruntime

            ort_cuda = str(getattr(onnxruntime, "cuda_version", "") or "") or None
        except Exception as exc:
            log.debug("onnxruntime import failed: %s", exc)
    runtime = _ctypes_version(
        ("cudart64_12.dll", "cudart64_13.dll")
        if win
        else ("libcudart.so.12", "libcudart.so.13", "libcudart.so"),
        "cudaRuntimeGetVersion",
        lambda v: f"{v // 1000}.{(v % 1000) // 10}",
    )
    cudnn = _ctypes_version(
        ("cudnn64_9.dll", "cudnn64_8.dll") if win else ("libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"),
        "cudnnGetVersion",
        _cudnn_text,
    )
    return {
        "onnxruntime_built_with": ort_cuda,
        "runtime": runtime or _dist_version("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu13"),
        "cudnn": cudnn or _dist_version("nvidia-cudnn-cu12", "nvidia-cudnn-cu13"),
    }


def probe_tensorrt() -> dict[str, Any]:
    installed = importlib.util.find_spec("tensorrt") is not None
    out: dict[str, Any] = {"installed": installed, "version": tensorrt_version(), "error": None}
    if installed:
        try:
            # Optional (NVIDIA only).
            import tensorrt

            out["version"] = str(tensorrt.__version__)
        except Exception as exc:
            out["error"] = _first_line(str(exc)) or type(exc).__name__
    return out


def probe_onnxruntime() -> dict[str, Any]:
    dists = [d for d in ORT_DISTRIBUTIONS if _dist_version(d)]
    out: dict[str, Any] = {
        "installed": False,
        "package": None,
        "version": None,
        "build": None,
        "device": None,
        "providers": [],
        "distributions": dists,
        "directml": False,
        "error": None,
    }
    if importlib.util.find_spec("onnxruntime") is None:
        return out
    try:
        # Heavy: loaded only when the doctor asks it.
        import onnxruntime as ort
    except Exception as exc:
        out["error"] = _first_line(str(exc)) or type(exc).__name__
        return out
    providers = list(ort.get_available_providers())
    out.update(
        installed=True,
        package=str(getattr(ort, "package_name", "onnxruntime")),
        version=str(ort.__version__),
        build=ort.get_build_info() if hasattr(ort, "get_build_info") else None,
        device=ort.get_device(),
        providers=providers,
        directml="DmlExecutionProvider" in providers,
    )
    return out


def probe_providers(remote: str | None = None) -> dict[str, Any]:
    """Every registered backend, whether it can be tried here, and the automatic order.

    Triton runs models only on a server given with ``--remote``: without one it is not a
    provider of this run, whatever is installed.
    """
    probes = probe_backends()
    if not remote and probes.get("triton") is None and "triton" in probes:
        probes["triton"] = ProbeResult("only with --remote URL: no Triton server given")
    rows = []
    for name in ORDER:
        p = probes[name]
        rows.append(
            {
                "name": name,
                "description": BACKENDS[name].description,
                "available": p is None,
                "installed": True if p is None else p.installed,
                "reason": None if p is None else p.reason,
                "fix": None if p is None else (p.fix or None),
            }
        )
    return {"order": list(ORDER), "backends": rows, "usable": [r["name"] for r in rows if r["available"]]}
