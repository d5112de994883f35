"""What a container hides from the app, read from ``/dev``, ``/sys`` and ``/proc``: the CUDA
runtime installed, the host driver, WSL, whether a GPU is passed in, the NVIDIA minimum-driver
table, and ``container_report`` (these facts, for ``realtime doctor --json``).

Everything is read below an injectable ``root`` so that tests fake ``/dev``, ``/sys`` and
``/proc`` in a temporary folder. The NVIDIA minimum-driver table is data shared with the
doctor: ``realtime/assets/cuda_drivers.toml``. The checks built on these facts are in
``realtime.doctor.container``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from realtime import resources as res

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

DRIVER_TABLE = "assets/cuda_drivers.toml"

# The wheels that carry the CUDA runtime (libcudart), newest naming first: NVIDIA dropped the
# -cuXX suffix with CUDA 13. Their version is the runtime's ("13.0.96" -> CUDA 13.0).
CUDA_RUNTIME_DISTS = (
    "nvidia-cuda-runtime",
    "nvidia-cuda-runtime-cu13",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cuda-runtime-cu11",
)


def read_text(path: Path) -> str | None:
    """The stripped text of ``path``, or None when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def version_tuple(text: str | None) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text or ""))


# ---------------------------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------------------------


def installed_cuda_runtime(version_of: Callable[[str], str] = importlib.metadata.version) -> str | None:
    """``"13.0"`` when an NVIDIA CUDA runtime wheel is installed (the cuda image), else None."""
    for dist in CUDA_RUNTIME_DISTS:
        try:
            v = version_tuple(version_of(dist))
        except importlib.metadata.PackageNotFoundError:
            continue
        if len(v) >= 2:
            return f"{v[0]}.{v[1]}"
    return None


def host_driver(root: Path = res.ROOT) -> str | None:
    """The NVIDIA kernel driver's version from ``/proc/driver/nvidia/version``, which the
    NVIDIA Container Toolkit mounts into a GPU container; None where it is absent (no GPU
    passed in, or WSL2, whose driver lives on the Windows side)."""
    text = read_text(root / "proc/driver/nvidia/version") or ""
    m = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else None


def is_wsl(root: Path = res.ROOT) -> bool:
    """Under WSL2 the GPU appears as ``/dev/dxg`` and the kernel names Microsoft."""
    return (root / "dev/dxg").exists() or "microsoft" in (read_text(root / "proc/version") or "").lower()


def gpu_visible(root: Path = res.ROOT) -> bool:
    """An NVIDIA GPU is passed into this container: its device nodes (Linux) or WSL2's
    paravirtual GPU with the CUDA library WSL provides."""
    dev = root / "dev"
    if (dev / "nvidiactl").exists() or any(dev.glob("nvidia[0-9]*")):
        return True
    return (dev / "dxg").exists() and (root / "usr/lib/wsl/lib/libcuda.so.1").exists()


def load_driver_table(text: str | None = None) -> dict[str, Any]:
    """NVIDIA's CUDA-runtime -> minimum-driver data: ``minor_compat`` (major -> {linux,
    windows}) and ``toolkit`` rows ({cuda, label, linux, windows})."""
    if text is None:
        text = resources.files("realtime").joinpath(DRIVER_TABLE).read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    return {
        "minor_compat": {str(k): dict(v) for k, v in doc.get("minor_compat", {}).items()},
        "toolkit": [dict(r) for r in doc.get("toolkit", [])],
    }


def minimum_driver(table: Mapping[str, Any], cuda: str, system: str = "linux") -> str | None:
    """The oldest driver that runs any CUDA ``cuda``'s major release (minor version
    compatibility), or None where NVIDIA lists none."""
    major = str(version_tuple(cuda)[:1][0]) if version_tuple(cuda) else ""
    row = table["minor_compat"].get(major) or {}
    return row.get(system) or None


def driver_rows(table: Mapping[str, Any], cuda: str) -> list[dict[str, str]]:
    """The table's rows for ``cuda``'s major release: the minor-compatibility minimum first,
    then each toolkit release of that major, newest first (what tools/driver_table.py prints)."""
    v = version_tuple(cuda)
    if not v:
        return []
    major = str(v[0])
    rows: list[dict[str, str]] = []
    compat = table["minor_compat"].get(major)
    if compat:
        rows.append(
            {
                "cuda": f"{major}.x",
                "label": f"any CUDA {major}.x runtime (minor version compatibility)",
                "linux": compat.get("linux", ""),
                "windows": compat.get("windows", ""),
            }
        )
    toolkit = [r for r in table["toolkit"] if version_tuple(r.get("cuda"))[:1] == (v[0],)]
    toolkit.sort(key=lambda r: version_tuple(r.get("cuda")), reverse=True)
    rows.extend(
        {
            "cuda": str(r.get("cuda", "")),
            "label": str(r.get("label", "")),
            "linux": str(r.get("linux", "")),
            "windows": str(r.get("windows", "")),
        }
        for r in toolkit
    )
    return rows


def ring_slots_for(workers: int) -> int:
    """Frames the pipeline holds at once: a capture and an output ring of workers + 2."""
    return 2 * (max(1, workers) + 2)


def container_report(
    root: Path = res.ROOT,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    width: int = 1280,
    height: int = 720,
) -> dict[str, Any]:
    """The facts behind the checks, for ``realtime doctor --json``."""
    env = os.environ if env is None else env
    slots = ring_slots_for(workers)
    return {
        "in_container": res.in_container(root, env),
        "image_variant": res.image_variant(env),
        "effective_cpus": res.effective_cpus(root),
        "cpu_quota": res.cpu_quota(root),
        "memory_limit_bytes": res.memory_limit(root),
        "shm_bytes": res.shm_size(root),
        "shm_needed_bytes": res.shm_needed(width, height, slots),
        "gpu_visible": gpu_visible(root),
        "host_driver": host_driver(root),
        "cuda_runtime": installed_cuda_runtime(),
        "threads": res.thread_plan(root, env, workers=workers),
    }
