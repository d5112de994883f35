"""What this process may really use: CPUs, memory and /dev/shm under cgroup limits.

``os.cpu_count()`` reports the host's cores even inside a container limited to two, and
every library that sizes its thread pool from it (ONNX Runtime, OpenCV, numba) then
oversubscribes the quota and gets throttled, which shows up as latency spikes. These
functions read the limits the kernel enforces instead. Each takes the filesystem root as a
parameter, so tests build a fake ``/sys/fs/cgroup`` and ``/proc`` under a temporary folder,
and each never raises: a missing or unreadable file means "no limit known".
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path

import cv2

from realtime.plan import Threads

log = logging.getLogger(__name__)

# The real filesystem root; tests pass a temporary folder that mimics it.
ROOT = Path("/")

# cgroup v1 reports "no limit" as a huge page-aligned number rather than a word.
_V1_UNLIMITED = 1 << 62

# Words in /proc/1/cgroup that only container runtimes put there.
_CONTAINER_HINTS = ("docker", "kubepods", "containerd", "libpod", "podman", "lxc", "garden", "buildkit")

# Environment variable set by the Dockerfile: which image this is (cpu or cuda).
VARIANT_ENV = "REALTIME_IMAGE_VARIANT"

# Thread-count overrides, most specific first; OMP_NUM_THREADS is the generic fallback for
# the OpenMP-style pools (ONNX Runtime and numba), not for OpenCV's own pthread pool.
_ORT_ENV = ("REALTIME_ORT_THREADS", "OMP_NUM_THREADS")
_NUMBA_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")
_CV_ENV = ("REALTIME_CV_THREADS",)

# Most intra-op threads worth giving one face-model session: the models are small
# (128-256 px crops), and past this the per-call synchronisation costs more than it saves.
MAX_ORT_THREADS = 8

# /dev/shm headroom for libraries that use POSIX shared memory on their own (Python's
# multiprocessing semaphores, CUDA IPC handles) on top of the frames themselves.
SHM_HEADROOM = 16 * 1024 * 1024


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _cgroup_paths(root: Path, version: int) -> list[str]:
    """The cgroup paths of this process from ``/proc/self/cgroup`` for v2 (``0::``) or the
    v1 hierarchy that has the ``cpu``/``memory`` controllers; deepest first."""
    text = _read(root / "proc/self/cgroup") or ""
    paths: list[str] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if version == 2 and hid == "0" and controllers == "":
            paths.append(path)
        elif version == 1 and controllers:
            paths.append(f"{controllers}:{path}")
    return paths


def _ancestors(base: Path, rel: str) -> list[Path]:
    """``base/rel`` and each folder above it up to ``base``, those that exist, deepest first.

    Limits nest: a parent's quota caps its children even where the child says "max".
    Inside a container the process's own path is not mounted (the container's cgroup is the
    mount's root), so only ``base`` itself exists, which is the right answer there too.
    """
    out: list[Path] = []
    parts = [p for p in rel.strip("/").split("/") if p]
    for i in range(len(parts), -1, -1):
        d = base.joinpath(*parts[:i]) if i else base
        if d.is_dir():
            out.append(d)
    return out


def _v2_dirs(root: Path) -> list[Path]:
    base = root / "sys/fs/cgroup"
    if not (base / "cgroup.controllers").exists():
        return []
    rels = _cgroup_paths(root, 2) or ["/"]
    return _ancestors(base, rels[0])


def _v1_dirs(root: Path, controller: str) -> list[Path]:
    rel = "/"
    for entry in _cgroup_paths(root, 1):
        controllers, path = entry.split(":", 1)
        if controller in controllers.split(","):
            rel = path
            break
    for name in (f"{controller},cpuacct", controller, f"cpuacct,{controller}"):
        base = root / "sys/fs/cgroup" / name
        if base.is_dir():
            return _ancestors(base, rel)
    return []


def cpu_quota(root: Path = ROOT) -> float | None:
    """CPUs' worth of time the cgroup quota allows (``1.5`` = 150 ms per 100 ms), or None.

    cgroup v2 ``cpu.max`` ("200000 100000" or "max 100000") first, then v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1 = no quota). The tightest level wins.
    """
    quotas: list[float] = []
    for d in _v2_dirs(root):
        text = _read(d / "cpu.max")
        if not text:
            continue
        fields = text.split()
        if len(fields) == 2 and fields[0] != "max":
            try:
                q, period = int(fields[0]), int(fields[1])
            except ValueError:
                continue
            if q > 0 and period > 0:
                quotas.append(q / period)
    if not quotas:
        for d in _v1_dirs(root, "cpu"):
            q_text, p_text = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            try:
                q, period = int(q_text or "-1"), int(p_text or "0")
            except ValueError:
                continue
            if q > 0 and period > 0:
                quotas.append(q / period)
    return min(quotas) if quotas else None


def memory_limit(root: Path = ROOT) -> int | None:
    """The cgroup memory limit in bytes (v2 ``memory.max``, v1 ``memory.limit_in_bytes``),
    or None when unlimited or unknown."""
    limits: list[int] = []
    for d in _v2_dirs(root):
        text = _read(d / "memory.max")
        if text and text != "max":
            try:
                limits.append(int(text))
            except ValueError:
                continue
    if not limits:
        for d in _v1_dirs(root, "memory"):
            text = _read(d / "memory.limit_in_bytes")
            try:
                value = int(text or "")
            except ValueError:
                continue
            if 0 < value < _V1_UNLIMITED:
                limits.append(value)
    return min(limits) if limits else None


def effective_cpus(
    root: Path = ROOT,
    affinity: int | None = None,
    cpu_count: int | None = None,
) -> int:
    """CPUs this process can really keep busy: the smallest of the cgroup quota (rounded
    down, at least 1), the CPUs it may be scheduled on, and the machine's count.

    The quota is rounded down because a pool one thread larger than the quota spends the
    last part of every period throttled, which is worse for frame latency than one thread less.
    """
    if affinity is None:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if cpu_count is None:
        cpu_count = os.cpu_count()
    candidates = [n for n in (affinity, cpu_count) if n]
    quota = cpu_quota(root)
    if quota is not None:
        candidates.append(max(1, math.floor(quota)))
    return max(1, min(candidates)) if candidates else 1


def _env_int(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[int, str] | None:
    for name in names:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            log.warning("ignoring %s=%r: not a whole number", name, raw)
            continue
        if value >= 1:
            return value, name
        log.warning("ignoring %s=%r: must be at least 1", name, raw)
    return None


def thread_plan(
    root: Path = ROOT,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    cpus: int | None = None,
) -> dict[str, object]:
    """Thread counts for ONNX Runtime (intra-op, per session), OpenCV and numba.

    The pipeline already runs a capture thread, ``workers`` processing threads and an output
    thread, so the libraries inside a worker get the CPUs left after one for capture and
    output, shared between the workers; OpenCV, called from every stage, gets half the CPUs
    (one on two cores). An environment variable that names a count wins over the computed
    one; ``sources`` says where each number came from.
    """
    env = os.environ if env is None else env
    n = cpus if cpus is not None else effective_cpus(root)
    workers = max(1, workers)
    compute = max(1, (n - 1) // workers) if n > 1 else 1
    plan: dict[str, int] = {
        "ort_intra_op": min(compute, MAX_ORT_THREADS),
        "numba": compute,
        "opencv": 1 if n <= 2 else max(1, n // 2),
    }
    sources = {key: f"{n} effective CPUs" for key in plan}
    for key, names in (("ort_intra_op", _ORT_ENV), ("numba", _NUMBA_ENV), ("opencv", _CV_ENV)):
        found = _env_int(env, names)
        if found is not None:
            plan[key], sources[key] = found[0], found[1]
    return {"cpus": n, "workers": workers, **plan, "sources": sources}


def plan_threads(workers: int = 1) -> Threads:
    """``thread_plan`` as the plan's ``Threads``."""
    tp = thread_plan(workers=workers)
    return Threads(ort=int(tp["ort_intra_op"]), numba=int(tp["numba"]), opencv=int(tp["opencv"]))  # type: ignore[call-overload]


def apply_threads(threads: Threads) -> None:
    """Size the libraries' own pools once, at start-up: numba reads its count from the
    environment when it loads (the user's own setting wins), OpenCV is told directly. ONNX
    Runtime sessions get theirs from the plan (``ModelAccess.threads``, ``faces.threads``)."""
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads.numba))
    cv2.setNumThreads(threads.opencv)


def image_variant(env: Mapping[str, str] | None = None) -> str | None:
    """``cpu`` or ``cuda`` inside one of the project's images, else None."""
    env = os.environ if env is None else env
    value = env.get(VARIANT_ENV, "").strip()
    return value or None


def in_container(root: Path = ROOT, env: Mapping[str, str] | None = None) -> bool:
    """True inside Docker, Podman, Kubernetes, LXC or one of the project's images."""
    env = os.environ if env is None else env
    if image_variant(env) is not None or env.get("container"):
        return True
    if (root / ".dockerenv").exists() or (root / "run/.containerenv").exists():
        return True
    text = _read(root / "proc/1/cgroup") or ""
    return any(hint in text for hint in _CONTAINER_HINTS)


def shm_size(root: Path = ROOT) -> int:
    """Size of /dev/shm in bytes: the tmpfs ``size=`` of its mount, else its filesystem
    size, else 0 (no /dev/shm at all)."""
    text = _read(root / "proc/self/mounts") or _read(root / "proc/mounts") or ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == "/dev/shm":
            for opt in fields[3].split(","):
                if opt.startswith("size="):
                    parsed = _parse_size(opt[5:])
                    if parsed is not None:
                        return parsed
    try:
        st = os.statvfs(root / "dev/shm")
    except OSError:
        return 0
    return st.f_frsize * st.f_blocks


def _parse_size(text: str) -> int | None:
    """tmpfs sizes as /proc/mounts writes them: ``65536k``, ``2g``, plain bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        return None


def shm_needed(width: int, height: int, ring_slots: int) -> int:
    """Bytes of /dev/shm a run at ``width``x``height`` wants: every ring slot as a BGR frame,
    plus ``SHM_HEADROOM`` for libraries that use shared memory themselves.

    Frames are counted so that the check stays right if frames ever cross a process boundary
    (a shared-memory ring or an out-of-process encoder); Docker's 64 MB default is already
    too small for 1080p rings of that kind.
    """
    return max(0, width) * max(0, height) * 3 * max(0, ring_slots) + SHM_HEADROOM


def startup_banner(root: Path = ROOT, env: Mapping[str, str] | None = None, workers: int = 1) -> str:
    """One line for the start-up log: which image (or native), the CPUs and limits seen, and
    the thread counts chosen from them, so a slow run in a container explains itself."""
    env = os.environ if env is None else env
    variant = image_variant(env)
    if variant:
        where = f"container image '{variant}'"
    elif in_container(root, env):
        where = "container (not one of the project's images)"
    else:
        where = "native (no container)"
    plan = thread_plan(root, env, workers=workers)
    quota = cpu_quota(root)
    mem = memory_limit(root)
    parts = [
        where,
        f"{plan['cpus']} effective CPUs"
        + (f" (cgroup quota {quota:g})" if quota is not None else "")
        + f" of {os.cpu_count() or '?'} on the host",
        f"threads: onnxruntime {plan['ort_intra_op']}, opencv {plan['opencv']}, numba {plan['numba']}",
        f"memory limit {mem / (1 << 30):.1f} GiB" if mem is not None else "no memory limit",
    ]
    if variant or in_container(root, env):
        parts.append(f"/dev/shm {shm_size(root) / (1 << 20):.0f} MiB")
    return " | ".join(parts)
