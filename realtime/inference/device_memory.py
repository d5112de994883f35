"""Device buffers and a stream for native TensorRT, behind one tiny interface.

``DeviceMemory`` is implemented on top of whichever of cuda-python, CuPy or PyTorch is
installed (lightest import first); ``open_device_memory`` picks the first that works and says
which package to install when none does.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from realtime.errors import ProviderError


class DeviceMemory(Protocol):
    """Raw device buffers and a stream, addressed by integer pointers (what TensorRT takes)."""

    name: str

    def alloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def create_stream(self) -> int: ...
    def upload(self, dst: int, src: np.ndarray, stream: int) -> None: ...
    def download(self, dst: np.ndarray, src: int, stream: int) -> None: ...
    def synchronize(self, stream: int) -> None: ...


class CudaPythonMemory:
    """``DeviceMemory`` over NVIDIA's cuda-python runtime bindings."""

    name = "cuda-python"

    def __init__(self, device_id: int = 0) -> None:
        try:
            from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
        except ImportError:
            from cuda import cudart  # older cuda-python
        self._rt = cudart
        self._check(cudart.cudaSetDevice(device_id), "cudaSetDevice")

    def _check(self, res: Any, what: str) -> Any:
        err = res[0] if isinstance(res, tuple) else res
        if int(err) != 0:
            raise RuntimeError(f"{what} failed: {err}")
        return res[1] if isinstance(res, tuple) and len(res) > 1 else None

    def alloc(self, nbytes: int) -> int:
        return int(self._check(self._rt.cudaMalloc(max(1, nbytes)), "cudaMalloc"))

    def free(self, ptr: int) -> None:
        self._check(self._rt.cudaFree(ptr), "cudaFree")

    def create_stream(self) -> int:
        return int(self._check(self._rt.cudaStreamCreate(), "cudaStreamCreate"))

    def upload(self, dst: int, src: np.ndarray, stream: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(
            self._rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, stream), "cudaMemcpyAsync"
        )

    def download(self, dst: np.ndarray, src: int, stream: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(
            self._rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, stream), "cudaMemcpyAsync"
        )

    def synchronize(self, stream: int) -> None:
        self._check(self._rt.cudaStreamSynchronize(stream), "cudaStreamSynchronize")


class CupyMemory:
    """``DeviceMemory`` over CuPy; keeps the owning objects alive for each raw pointer."""

    name = "cupy"

    def __init__(self, device_id: int = 0) -> None:
        # Optional: one of the CUDA memory libraries that may be installed.
        import cupy

        self._cp = cupy
        cupy.cuda.Device(device_id).use()
        self._bufs: dict[int, Any] = {}
        self._streams: dict[int, Any] = {}

    def alloc(self, nbytes: int) -> int:
        mem = self._cp.cuda.alloc(max(1, nbytes))
        self._bufs[int(mem.ptr)] = mem
        return int(mem.ptr)

    def free(self, ptr: int) -> None:
        self._bufs.pop(ptr, None)

    def create_stream(self) -> int:
        s = self._cp.cuda.Stream(non_blocking=True)
        self._streams[int(s.ptr)] = s
        return int(s.ptr)

    def upload(self, dst: int, src: np.ndarray, stream: int) -> None:
        rt = self._cp.cuda.runtime
        rt.memcpyAsync(dst, src.ctypes.data, src.nbytes, rt.memcpyHostToDevice, stream)

    def download(self, dst: np.ndarray, src: int, stream: int) -> None:
        rt = self._cp.cuda.runtime
        rt.memcpyAsync(dst.ctypes.data, src, dst.nbytes, rt.memcpyDeviceToHost, stream)

    def synchronize(self, stream: int) -> None:
        self._cp.cuda.runtime.streamSynchronize(stream)


class TorchMemory:
    """``DeviceMemory`` over PyTorch tensors (byte tensors stand in for raw allocations)."""

    name = "torch"

    def __init__(self, device_id: int = 0) -> None:
        # Optional: one of the CUDA memory libraries that may be installed.
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False")
        self._torch = torch
        self._device = torch.device("cuda", device_id)
        self._bufs: dict[int, Any] = {}
        self._streams: dict[int, Any] = {}

    def alloc(self, nbytes: int) -> int:
        t = self._torch.empty(max(1, nbytes), dtype=self._torch.uint8, device=self._device)
        self._bufs[int(t.data_ptr())] = t
        return int(t.data_ptr())

    def free(self, ptr: int) -> None:
        self._bufs.pop(ptr, None)

    def create_stream(self) -> int:
        s = self._torch.cuda.Stream(device=self._device)
        self._streams[int(s.cuda_stream)] = s
        return int(s.cuda_stream)

    def _bytes(self, arr: np.ndarray) -> Any:
        return self._torch.from_numpy(arr.reshape(-1).view(np.uint8))

    def upload(self, dst: int, src: np.ndarray, stream: int) -> None:
        with self._torch.cuda.stream(self._streams[stream]):
            self._bufs[dst][: src.nbytes].copy_(self._bytes(src), non_blocking=True)

    def download(self, dst: np.ndarray, src: int, stream: int) -> None:
        with self._torch.cuda.stream(self._streams[stream]):
            self._bytes(dst).copy_(self._bufs[src][: dst.nbytes], non_blocking=False)

    def synchronize(self, stream: int) -> None:
        self._streams[stream].synchronize()


# (module probed, name, implementation), in order of preference (lightest import first).
MEMORY_APIS: tuple[tuple[str, str, Callable[[int], DeviceMemory]], ...] = (
    ("cuda", CudaPythonMemory.name, CudaPythonMemory),
    ("cupy", CupyMemory.name, CupyMemory),
    ("torch", TorchMemory.name, TorchMemory),
)


def installed_memory_apis() -> list[str]:
    """Which CUDA memory packages are importable here (without importing them)."""
    out = []
    for module, name, _impl in MEMORY_APIS:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            out.append(name)
    return out


def open_device_memory(device_id: int = 0, *, prefer: str | None = None) -> DeviceMemory:
    """The first working ``DeviceMemory``; ``ProviderError`` naming the fix when none works."""
    prefer = prefer or os.environ.get("REALTIME_CUDA_MEMORY") or None
    failures = []
    for _module, name, impl in MEMORY_APIS:
        if prefer and name != prefer:
            continue
        try:
            return impl(device_id)
        except Exception as exc:  # ImportError, missing driver, no device
            failures.append(f"{name}: {exc}")
    raise ProviderError(
        "no CUDA memory API for TensorRT buffers (" + "; ".join(failures) + ")",
        fix="pip install cuda-python",
    )
