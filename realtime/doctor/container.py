"""Checks that only matter inside a container, each fixed by one ``docker run`` flag.

A container hides what the host has: a camera not passed in with ``--device`` does not
exist, a GPU needs ``--gpus all``, Docker's 64 MB ``/dev/shm`` and a CPU or memory limit
are invisible to ``os.cpu_count()``. ``realtime doctor`` adds these findings to its own; each
is a dict ``{"severity", "problem", "fix"}`` with the severities the doctor uses (``error``:
the run cannot work, ``warning``: it is degraded, ``info``: a choice explained).

Everything is read below an injectable ``root`` (see ``realtime.doctor.container_facts``).
"""

from __future__ import annotations

import logging
import math
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from realtime import resources as res
from realtime.doctor.container_facts import (
    DRIVER_TABLE,
    gpu_visible,
    host_driver,
    installed_cuda_runtime,
    is_wsl,
    load_driver_table,
    minimum_driver,
    read_text,
    ring_slots_for,
    version_tuple,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

Check = dict[str, str]

# Below two CPUs the capture, processing and output threads take turns on one core, and
# the output cannot keep pace. The demo (mesh swap, bundled models) peaks at ~360 MiB RSS at
# 720p, but a neural swapper loads a 555 MB model (inswapper_128) plus a 174 MB recognizer
# into ONNX Runtime, whose session holds the weights and its arena: 2 GiB leaves headroom.
MIN_CPUS = 2
MIN_MEMORY = 2 << 30

# Step in which --shm-size is suggested, so the flag reads like one a person would type.
SHM_STEP = 64 << 20

# Device names that v4l2loopback and its forks give their video nodes (sysfs "name").
_LOOPBACK_NAMES = ("dummy video device", "v4l2loopback", "loopback", "realtime", "obs virtual camera")


def _problem(severity: str, problem: str, fix: str) -> Check:
    return {"severity": severity, "problem": problem, "fix": fix}


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def check_shm(root: Path, width: int, height: int, ring_slots: int) -> list[Check]:
    have, need = res.shm_size(root), res.shm_needed(width, height, ring_slots)
    if have >= need:
        return []
    flag_mb = math.ceil(need / SHM_STEP) * SHM_STEP >> 20
    return [
        _problem(
            "warning",
            f"/dev/shm is {_mib(have)}; a {width}x{height} run with {ring_slots} frame slots "
            f"wants {_mib(need)}",
            f"docker run --shm-size={flag_mb}m ...",
        )
    ]


def check_gpu(
    root: Path,
    variant: str | None,
    cuda_runtime: str | None,
    driver: str | None,
    table: Mapping[str, Any] | None,
) -> list[Check]:
    visible = gpu_visible(root)
    if variant == "cpu":
        if visible:
            return [
                _problem(
                    "info",
                    "an NVIDIA GPU is passed in, but this is the cpu image, which runs on the CPU only",
                    "docker run --gpus all ... realtime:cuda (the cuda image)",
                )
            ]
        return []
    if variant != "cuda":
        return []
    if not visible:
        return [
            _problem(
                "warning",
                "no NVIDIA GPU is visible in this container, so the cuda image runs on the CPU",
                "docker run --gpus all ... (needs the NVIDIA Container Toolkit on the host; "
                "podman: --device nvidia.com/gpu=all)",
            )
        ]
    runtime = cuda_runtime or installed_cuda_runtime()
    driver = driver or host_driver(root)
    if not runtime or not driver or table is None:
        return []
    system = "windows" if is_wsl(root) else "linux"
    need = minimum_driver(table, runtime, system)
    if need and version_tuple(driver) < version_tuple(need):
        return [
            _problem(
                "error",
                f"the host's NVIDIA driver {driver} is older than {need}, the minimum for the "
                f"CUDA {runtime} runtime in this image",
                f"upgrade the host's NVIDIA driver to {need} or newer (a container uses the host's "
                "driver; no docker run flag can replace it), or run realtime:cpu",
            )
        ]
    return []


def _video_nodes(root: Path) -> dict[str, str]:
    """Every V4L2 node the host has (sysfs shows them even where /dev does not): node
    name (``video10``) -> device name (``Dummy video device (0x0000)``)."""
    out: dict[str, str] = {}
    cls = root / "sys/class/video4linux"
    try:
        entries = sorted(cls.iterdir())
    except OSError:
        return out
    for entry in entries:
        out[entry.name] = read_text(entry / "name") or ""
    return out


def _is_loopback(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in _LOOPBACK_NAMES)


def _accessible(path: Path, uid: int, gids: set[int]) -> bool:
    """Read-write permission for ``uid``/``gids`` by the mode bits, as the kernel checks it."""
    try:
        st = path.stat()
    except OSError:
        return False
    if uid == 0:
        return True
    if st.st_uid == uid:
        bits = stat.S_IRUSR | stat.S_IWUSR
    elif st.st_gid in gids:
        bits = stat.S_IRGRP | stat.S_IWGRP
    else:
        bits = stat.S_IROTH | stat.S_IWOTH
    return st.st_mode & bits == bits


def check_devices(
    root: Path,
    devices: Sequence[str] | None,
    ids: tuple[int, set[int]] | None = None,
) -> list[Check]:
    """The camera and the v4l2loopback device: passed in, and usable by this user.

    ``devices`` are the device paths the run will use (``--camera``, ``--vcam-device``);
    None means the doctor's general question "is there a camera and a virtual camera".
    """
    if ids is None:
        ids = (os.getuid(), {os.getgid(), *os.getgroups()}) if hasattr(os, "getuid") else (0, set())
    uid, gids = ids
    problems: list[Check] = []
    nodes = _video_nodes(root)
    present = {p.name for p in (root / "dev").glob("video[0-9]*")}

    def not_readable(dev: str) -> Check:
        return _problem(
            "error",
            f"{dev} is passed in but this user (uid {uid}) may not open it",
            f'docker run --group-add "$(stat -c %g {dev})" ... (the device\'s group on the host)',
        )

    if devices is not None:
        for dev in devices:
            path = root / dev.lstrip("/")
            if not path.exists():
                problems.append(
                    _problem(
                        "error", f"{dev} is not passed into this container", f"docker run --device {dev} ..."
                    )
                )
            elif not _accessible(path, uid, gids):
                problems.append(not_readable(dev))
        return problems

    cameras = sorted(n for n in present if not _is_loopback(nodes.get(n, "")))
    loops = sorted(n for n in present if _is_loopback(nodes.get(n, "")))
    host_cameras = sorted(n for n, name in nodes.items() if not _is_loopback(name))
    host_loops = sorted(n for n, name in nodes.items() if _is_loopback(name))
    if not cameras:
        host = f"/dev/{host_cameras[0]}" if host_cameras else "/dev/video0"
        problems.append(
            _problem(
                "warning",
                "no camera is passed into this container (files, streams and --demo still work)",
                f'docker run --device {host} --group-add "$(stat -c %g {host})" ...',
            )
        )
    if not loops:
        if host_loops:
            dev = f"/dev/{host_loops[0]}"
            problems.append(
                _problem(
                    "warning",
                    f"the host's v4l2loopback device {dev} is not passed in, so --sink vcam cannot work",
                    f"docker run --device {dev} ...",
                )
            )
        else:
            problems.append(
                _problem(
                    "warning",
                    "no v4l2loopback device on the host, so --sink vcam cannot work (file and mjpeg can)",
                    "on the host: sudo modprobe v4l2loopback devices=1 video_nr=10 exclusive_caps=1 "
                    "card_label=realtime; then docker run --device /dev/video10 ...",
                )
            )
    for n in sorted(present):
        if not _accessible(root / "dev" / n, uid, gids):
            problems.append(not_readable(f"/dev/{n}"))
    return problems


def check_limits(root: Path, env: Mapping[str, str], workers: int) -> list[Check]:
    """CPU and memory limits, and thread counts set by hand that exceed the CPU limit."""
    problems: list[Check] = []
    cpus = res.effective_cpus(root)
    quota = res.cpu_quota(root)
    if cpus < MIN_CPUS:
        why = f"cgroup quota {quota:g}" if quota is not None else "CPU affinity"
        problems.append(
            _problem(
                "warning",
                f"this container may use {cpus} CPU ({why}): capture, processing and output take turns",
                f"docker run --cpus {MIN_CPUS} ... (or more; and no --cpuset-cpus with one core)",
            )
        )
    mem = res.memory_limit(root)
    if mem is not None and mem < MIN_MEMORY:
        problems.append(
            _problem(
                "warning",
                f"the memory limit is {_mib(mem)}; neural swappers need about {_mib(MIN_MEMORY)}",
                f"docker run --memory {MIN_MEMORY >> 30}g ...",
            )
        )
    plan = res.thread_plan(root, env, workers=workers)
    sources = plan["sources"]
    assert isinstance(sources, dict)
    for key, label in (("ort_intra_op", "ONNX Runtime"), ("numba", "numba"), ("opencv", "OpenCV")):
        count = plan[key]
        assert isinstance(count, int)
        var = sources[key]
        if var in env:
            if count > cpus:
                problems.append(
                    _problem(
                        "warning",
                        f"{var}={count} gives {label} more threads than the {cpus} CPUs "
                        "this container may use",
                        f"docker run -e {var}={cpus} ... (or unset it, or raise --cpus)",
                    )
                )
    problems.append(
        _problem(
            "info",
            f"threads from {cpus} effective CPUs: ONNX Runtime {plan['ort_intra_op']}, "
            f"OpenCV {plan['opencv']}, numba {plan['numba']}",
            "docker run --cpus N ... sets them; REALTIME_ORT_THREADS, REALTIME_CV_THREADS, "
            "NUMBA_NUM_THREADS override",
        )
    )
    return problems


def container_checks(
    root: Path = res.ROOT,
    width: int = 1280,
    height: int = 720,
    cuda_runtime: str | None = None,
    driver: str | None = None,
    devices: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    ring_slots: int | None = None,
    table: Mapping[str, Any] | None = None,
    ids: tuple[int, set[int]] | None = None,
) -> list[Check]:
    """Every container problem found, errors first; empty outside a container.

    ``cuda_runtime`` defaults to the installed NVIDIA runtime wheel's version, ``driver`` to
    the host driver the container can see, ``devices`` to "any camera, any v4l2loopback".
    """
    env = os.environ if env is None else env
    if not res.in_container(root, env):
        return []
    if table is None:
        try:
            table = load_driver_table()
        except (OSError, tomllib.TOMLDecodeError) as exc:
            log.warning("cannot read the NVIDIA driver table %s: %s", DRIVER_TABLE, exc)
    slots = ring_slots if ring_slots is not None else ring_slots_for(workers)
    variant = res.image_variant(env)
    found = (
        check_gpu(root, variant, cuda_runtime, driver, table)
        + check_devices(root, devices, ids)
        + check_shm(root, width, height, slots)
        + check_limits(root, env, workers)
    )
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda c: order.get(c["severity"], 3))
