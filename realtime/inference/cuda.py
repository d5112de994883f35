"""NVIDIA facts behind small interfaces: the driver, its GPUs, and what follows from them.

Everything here that touches the driver is a plain function over ``ctypes`` or an optional
package, so that backends and ``realtime doctor`` can ask "is there a GPU, which one, is the
driver new enough" without importing a framework, and tests can replace each answer.

The CUDA-runtime -> minimum-driver table is data (``realtime/assets/cuda_drivers.toml``).
Device buffers and streams for native TensorRT are in ``realtime.inference.device_memory``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp16", "fp32")


# ---------------------------------------------------------------------------------------------
# Versions and the driver table
# ---------------------------------------------------------------------------------------------


def parse_version(text: str | None) -> tuple[int, ...]:
    """``"550.54.14"`` -> ``(550, 54, 14)``; anything unparsable -> ``()``."""
    if not text:
        return ()
    nums = re.findall(r"\d+", text)
    return tuple(int(n) for n in nums)


def cuda_major(cuda: str | None) -> str | None:
    """``"12.4"`` -> ``"12"``; ``None`` when no version is known."""
    v = parse_version(cuda)
    return str(v[0]) if v else None


def _os_key(system: str) -> str:
    return "windows" if system.lower().startswith("win") else "linux"


@dataclass(frozen=True)
class DriverTable:
    """NVIDIA's CUDA-runtime -> minimum-driver data, read from ``cuda_drivers.toml``."""

    gpu_extra_cuda: str
    minor_compat: dict[str, dict[str, str]]
    toolkit: tuple[dict[str, str], ...]

    def minimum_driver(self, cuda: str, system: str) -> str | None:
        """Oldest driver any runtime of ``cuda``'s major family runs on, or None if unknown."""
        major = cuda_major(cuda)
        row = self.minor_compat.get(major or "")
        if not row:
            return None
        return row.get(_os_key(system)) or None

    def toolkit_driver(self, cuda: str, system: str) -> str | None:
        """The driver the ``cuda`` major.minor release shipped with (the recommended minimum)."""
        want = parse_version(cuda)[:2]
        for row in self.toolkit:
            if parse_version(row["cuda"])[:2] == want:
                return row.get(_os_key(system)) or None
        return None

    def driver_too_old(self, driver: str, cuda: str, system: str) -> bool:
        """True when ``driver`` is below the minor-compatibility minimum for ``cuda``."""
        need = self.minimum_driver(cuda, system)
        have = parse_version(driver)
        return bool(need and have) and have < parse_version(need)

    def requirement_text(self, cuda: str, system: str) -> str:
        """One phrase naming the driver ``cuda`` needs, e.g. for a fix line."""
        need = self.minimum_driver(cuda, system)
        major = cuda_major(cuda) or cuda
        if not need:
            return f"a driver that supports CUDA {major}.x"
        rec = self.toolkit_driver(cuda, system)
        text = f"NVIDIA driver >= {need} (the minimum for CUDA {major}.x"
        if rec and parse_version(rec) > parse_version(need):
            text += f"; {rec} or newer recommended for CUDA {cuda}"
        return text + ")"


def load_driver_table(text: str | None = None) -> DriverTable:
    """Read the shipped table (or ``text``, for tests); a broken file is a ``ConfigError``."""
    if text is None:
        text = resources.files("realtime").joinpath("assets/cuda_drivers.toml").read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
        table = DriverTable(
            gpu_extra_cuda=str(doc["gpu_extra_cuda"]),
            minor_compat={str(k): dict(v) for k, v in doc["minor_compat"].items()},
            toolkit=tuple(dict(r) for r in doc.get("toolkit", [])),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"realtime/assets/cuda_drivers.toml is malformed: {exc}",
            fix="reinstall realtime",
        ) from exc
    return table


# ---------------------------------------------------------------------------------------------
# The driver and its GPUs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CudaDevice:
    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory_mb: int

    @property
    def cc(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


@dataclass(frozen=True)
class CudaDriverState:
    """What the CUDA driver API says: the library found, the newest CUDA it supports, GPUs."""

    library: str | None
    cuda_version: str | None
    devices: tuple[CudaDevice, ...]
    error: str | None = None


_CU_ATTR_CC_MAJOR = 75
_CU_ATTR_CC_MINOR = 76


def _libcuda_names(system: str) -> Sequence[str]:
    if system == "Windows":
        return ("nvcuda.dll",)
    if system == "Linux":
        return ("libcuda.so.1", "libcuda.so")
    return ()


def _load_libcuda(system: str) -> tuple[Any, str] | None:
    for name in _libcuda_names(system):
        try:
            return ctypes.CDLL(name), name
        except OSError:
            continue
    return None


def probe_cuda_driver(
    loader: Callable[[str], tuple[Any, str] | None] = _load_libcuda,
    system: str | None = None,
) -> CudaDriverState:
    """Ask the CUDA driver API (``libcuda``) for its version and devices; never raises."""
    system = system or platform.system()
    found = loader(system)
    if found is None:
        why = (
            "the NVIDIA driver library (libcuda) was not found"
            if _libcuda_names(system)
            else f"CUDA is not available on {system}"
        )
        return CudaDriverState(None, None, (), why)
    lib, name = found
    try:
        rc = lib.cuInit(0)
        ver = ctypes.c_int(0)
        lib.cuDriverGetVersion(ctypes.byref(ver))
        cuda = f"{ver.value // 1000}.{(ver.value % 1000) // 10}" if ver.value else None
        if rc != 0:
            reason = "no CUDA-capable GPU found" if rc == 100 else f"cuInit failed with CUresult {rc}"
            return CudaDriverState(name, cuda, (), reason)
        count = ctypes.c_int(0)
        lib.cuDeviceGetCount(ctypes.byref(count))
        devices = []
        for i in range(count.value):
            dev = ctypes.c_int(0)
            lib.cuDeviceGet(ctypes.byref(dev), i)
            buf = ctypes.create_string_buffer(256)
            lib.cuDeviceGetName(buf, 256, dev)
            major, minor = ctypes.c_int(0), ctypes.c_int(0)
            lib.cuDeviceGetAttribute(ctypes.byref(major), _CU_ATTR_CC_MAJOR, dev)
            lib.cuDeviceGetAttribute(ctypes.byref(minor), _CU_ATTR_CC_MINOR, dev)
            mem = ctypes.c_size_t(0)
            lib.cuDeviceTotalMem_v2(ctypes.byref(mem), dev)
            devices.append(
                CudaDevice(
                    i,
                    buf.value.decode(errors="replace"),
                    (major.value, minor.value),
                    int(mem.value // (1 << 20)),
                )
            )
        return CudaDriverState(name, cuda, tuple(devices), None if devices else "no CUDA-capable GPU found")
    except (AttributeError, OSError) as exc:
        return CudaDriverState(name, None, (), f"{name} is unusable: {exc}")


def nvidia_driver_version(
    proc_file: Path = Path("/proc/driver/nvidia/version"),
    run: Callable[[Sequence[str]], str] | None = None,
) -> str | None:
    """The installed NVIDIA driver version, e.g. ``"550.54.14"``, or None without one.

    Cheapest source first: the kernel module's /proc file, then NVML, then nvidia-smi.
    """
    try:
        m = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)", proc_file.read_text())
        if m:
            return m.group(1)
    except OSError:
        pass
    if importlib.util.find_spec("pynvml") is not None:
        try:
            # Optional (NVIDIA only).
            import pynvml

            pynvml.nvmlInit()
            try:
                v = pynvml.nvmlSystemGetDriverVersion()
                return v.decode() if isinstance(v, bytes) else str(v)
            finally:
                pynvml.nvmlShutdown()
        except Exception as exc:  # NVML raises its own error types
            log.debug("NVML driver query failed: %s", exc)
    run = run or _run_nvidia_smi
    try:
        out = run(["--query-gpu=driver_version", "--format=csv,noheader"])
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.strip().splitlines()[0].strip() if out.strip() else ""
    return first or None


def _run_nvidia_smi(args: Sequence[str]) -> str:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        raise FileNotFoundError("nvidia-smi not found")
    res = subprocess.run([exe, *args], capture_output=True, text=True, timeout=10, check=True)
    return res.stdout


# ---------------------------------------------------------------------------------------------
# Decisions that follow from the GPU
# ---------------------------------------------------------------------------------------------

# Compute capabilities before Volta whose FP16 rate is fast (P100, Jetson TX1/TX2).
_FAST_FP16_PRE_VOLTA = {(5, 3), (6, 0), (6, 2)}


def choose_precision(
    requested: str,
    device: CudaDevice | None,
    *,
    builder_supports_fp16: bool = True,
    platform_fast_fp16: bool | None = None,
) -> tuple[str, str]:
    """Pick ``fp16`` or ``fp32`` for a GPU build and say why.

    ``auto`` takes FP16 where the GPU runs it fast, except GTX 16xx cards whose FP16 output
    is known to turn into NaNs (black boxes) in face-swap models.
    """
    if requested not in PRECISIONS:
        raise ConfigError(f"unknown precision {requested!r}", fix=f"use one of {', '.join(PRECISIONS)}")
    if requested == "fp32":
        return "fp32", "fp32 requested"
    if not builder_supports_fp16:
        return (
            "fp32",
            "this TensorRT has no FP16 builder flag (strongly typed builds follow the model's types)",
        )
    if requested == "fp16":
        return "fp16", "fp16 requested"
    if device is None:
        return "fp32", "no GPU information"
    if "GTX 16" in device.name.upper():
        return "fp32", f"{device.name}: FP16 produces NaNs on GTX 16xx cards"
    fast = platform_fast_fp16
    if fast is None:
        fast = device.compute_capability >= (7, 0) or device.compute_capability in _FAST_FP16_PRE_VOLTA
    if fast:
        return "fp16", f"{device.name} (sm {device.cc}) has fast FP16"
    return "fp32", f"{device.name} (sm {device.cc}) has slow FP16"


def explain_cuda_failure(
    error: str,
    *,
    driver: str | None,
    cuda: str | None,
    table: DriverTable,
    system: str | None = None,
) -> str:
    """Turn a CUDA start-up error into the one fix a user should apply."""
    system = system or platform.system()
    cuda = cuda or table.gpu_extra_cuda
    major = cuda_major(cuda) or cuda
    low = error.lower()
    need = table.requirement_text(cuda, system)
    if driver and table.driver_too_old(driver, cuda, system):
        return f"NVIDIA driver {driver} is too old for CUDA {major}.x: install {need}"
    if "insufficient" in low and "driver" in low:
        return f"the NVIDIA driver is too old for CUDA {major}.x: install {need}"
    if "out of memory" in low or "alloc_failed" in low or "memoryallocation" in low:
        return "the GPU ran out of memory: close other programs using it, or choose smaller models"
    if "cudnn" in low:
        return (
            f"cuDNN for CUDA {major} was not found: pip install 'onnxruntime-gpu[cuda,cudnn]' "
            f"(or nvidia-cudnn-cu{major})"
        )
    if re.search(r"lib(cublas|cudart|cufft|curand|nvrtc)\S*|cublas|cudart", low):
        return f"the CUDA {major} runtime libraries were not found: pip install 'onnxruntime-gpu[cuda,cudnn]'"
    if "no cuda-capable device" in low or "no cuda gpus" in low or "no device" in low:
        return "no NVIDIA GPU is visible: check `nvidia-smi` and CUDA_VISIBLE_DEVICES"
    if not driver:
        return f"install the NVIDIA driver ({need})"
    return f"run `realtime doctor`; CUDA {major}.x needs {need} (found {driver})"
