"""realtime.resources over fake cgroup, proc and dev trees built under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from realtime import resources as res

MiB = 1 << 20
GiB = 1 << 30


def put(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cgroup_v2(root: Path, cpu_max: str | None = None, memory_max: str | None = None, rel: str = "/") -> Path:
    put(root, "proc/self/cgroup", f"0::{rel}\n")
    base = root / "sys/fs/cgroup"
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
    if cpu_max is not None:
        put(base, "cpu.max", cpu_max + "\n")
    if memory_max is not None:
        put(base, "memory.max", memory_max + "\n")
    return base


def cgroup_v1(root: Path, quota: int, period: int = 100000, limit: int | None = None) -> None:
    put(root, "proc/self/cgroup", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n")
    put(root, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", f"{quota}\n")
    put(root, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", f"{period}\n")
    if limit is not None:
        put(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", f"{limit}\n")


# --- CPU quota and effective CPUs ---------------------------------------------------------------


def test_v2_quota_is_quota_over_period(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, cpu_max="150000 100000")
    assert res.cpu_quota(tmp_path) == pytest.approx(1.5)


def test_v2_max_means_no_quota(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, cpu_max="max 100000")
    assert res.cpu_quota(tmp_path) is None


def test_v2_parent_quota_caps_an_unlimited_child(tmp_path: Path) -> None:
    base = cgroup_v2(tmp_path, cpu_max="max 100000", rel="/machine/app")
    put(base, "machine/cpu.max", "200000 100000")
    put(base, "machine/app/cpu.max", "max 100000")
    assert res.cpu_quota(tmp_path) == pytest.approx(2.0)


def test_v1_quota_and_no_quota(tmp_path: Path) -> None:
    cgroup_v1(tmp_path, quota=300000)
    assert res.cpu_quota(tmp_path) == pytest.approx(3.0)
    cgroup_v1(tmp_path, quota=-1)
    assert res.cpu_quota(tmp_path) is None


def test_nothing_mounted_means_no_limits(tmp_path: Path) -> None:
    assert res.cpu_quota(tmp_path) is None
    assert res.memory_limit(tmp_path) is None


def test_effective_cpus_takes_the_smallest(tmp_path: Path) -> None:
    assert res.effective_cpus(tmp_path, affinity=3, cpu_count=8) == 3
    cgroup_v2(tmp_path, cpu_max="250000 100000")
    assert res.effective_cpus(tmp_path, affinity=8, cpu_count=16) == 2  # 2.5 rounds down
    cgroup_v2(tmp_path, cpu_max="50000 100000")
    assert res.effective_cpus(tmp_path, affinity=8, cpu_count=16) == 1  # never 0


def test_effective_cpus_defaults_to_this_process(tmp_path: Path) -> None:
    expected = min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)
    assert res.effective_cpus(tmp_path) == expected


# --- memory -----------------------------------------------------------------------------------


def test_memory_limit_v2_and_v1(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, memory_max=str(512 * MiB))
    assert res.memory_limit(tmp_path) == 512 * MiB
    cgroup_v2(tmp_path, memory_max="max")
    assert res.memory_limit(tmp_path) is None

    v1 = tmp_path / "v1"
    cgroup_v1(v1, quota=-1, limit=GiB)
    assert res.memory_limit(v1) == GiB
    cgroup_v1(v1, quota=-1, limit=9223372036854771712)  # v1's "unlimited"
    assert res.memory_limit(v1) is None


# --- thread plan --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpus", "workers", "ort", "numba", "opencv"),
    [(1, 1, 1, 1, 1), (2, 1, 1, 1, 1), (4, 1, 3, 3, 2), (5, 2, 2, 2, 2), (16, 1, 8, 15, 8)],
)
def test_thread_plan_from_cpus(
    tmp_path: Path, cpus: int, workers: int, ort: int, numba: int, opencv: int
) -> None:
    plan = res.thread_plan(tmp_path, env={}, workers=workers, cpus=cpus)
    assert (plan["ort_intra_op"], plan["numba"], plan["opencv"]) == (ort, numba, opencv)
    assert plan["cpus"] == cpus


def test_thread_plan_follows_the_quota(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, cpu_max="400000 100000")
    plan = res.thread_plan(tmp_path, env={})
    assert plan["cpus"] == min(4, len(os.sched_getaffinity(0)), os.cpu_count() or 1)


def test_environment_wins_most_specific_first(tmp_path: Path) -> None:
    env = {"OMP_NUM_THREADS": "3", "REALTIME_ORT_THREADS": "2", "REALTIME_CV_THREADS": "4"}
    plan = res.thread_plan(tmp_path, env=env, cpus=8)
    assert plan["ort_intra_op"] == 2 and plan["sources"]["ort_intra_op"] == "REALTIME_ORT_THREADS"
    assert plan["numba"] == 3 and plan["sources"]["numba"] == "OMP_NUM_THREADS"
    assert plan["opencv"] == 4 and plan["sources"]["opencv"] == "REALTIME_CV_THREADS"
    plan = res.thread_plan(tmp_path, env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "6"}, cpus=8)
    assert plan["numba"] == 1 and plan["ort_intra_op"] == 6


def test_bad_thread_variables_are_ignored(tmp_path: Path) -> None:
    plan = res.thread_plan(tmp_path, env={"REALTIME_ORT_THREADS": "lots", "OMP_NUM_THREADS": "0"}, cpus=4)
    assert plan["ort_intra_op"] == 3
    assert plan["sources"]["ort_intra_op"] == "4 effective CPUs"


# --- container detection ----------------------------------------------------------------------


def test_not_a_container(tmp_path: Path) -> None:
    put(tmp_path, "proc/1/cgroup", "0::/init.scope\n")
    assert not res.in_container(tmp_path, env={})
    assert res.image_variant({}) is None


@pytest.mark.parametrize(
    ("rel", "text", "env"),
    [
        (".dockerenv", "", {}),
        ("run/.containerenv", "", {}),
        ("proc/1/cgroup", "12:cpu:/docker/0123abcd\n", {}),
        ("proc/1/cgroup", "0::/kubepods/besteffort/pod1\n", {}),
        ("unrelated", "", {"REALTIME_IMAGE_VARIANT": "cpu"}),
        ("unrelated", "", {"container": "podman"}),
    ],
)
def test_container_hints(tmp_path: Path, rel: str, text: str, env: dict[str, str]) -> None:
    put(tmp_path, rel, text)
    assert res.in_container(tmp_path, env=env)


def test_image_variant_from_the_dockerfile_env() -> None:
    assert res.image_variant({"REALTIME_IMAGE_VARIANT": "cuda"}) == "cuda"
    assert res.image_variant({"REALTIME_IMAGE_VARIANT": " "}) is None


# --- /dev/shm ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opt", "size"), [("size=65536k", 64 * MiB), ("size=2g", 2 * GiB), ("size=1048576", MiB)]
)
def test_shm_size_from_the_mount_option(tmp_path: Path, opt: str, size: int) -> None:
    put(tmp_path, "proc/self/mounts", f"proc /proc proc rw 0 0\nshm /dev/shm tmpfs rw,nosuid,{opt} 0 0\n")
    assert res.shm_size(tmp_path) == size


def test_shm_size_without_a_size_option_uses_the_filesystem(tmp_path: Path) -> None:
    put(tmp_path, "proc/self/mounts", "tmpfs /dev/shm tmpfs rw,nosuid 0 0\n")
    (tmp_path / "dev/shm").mkdir(parents=True)
    st = os.statvfs(tmp_path / "dev/shm")
    assert res.shm_size(tmp_path) == st.f_frsize * st.f_blocks > 0


def test_no_shm_at_all(tmp_path: Path) -> None:
    assert res.shm_size(tmp_path) == 0


def test_shm_needed_counts_every_slot() -> None:
    frame = 1920 * 1080 * 3
    assert res.shm_needed(1920, 1080, 6) == 6 * frame + res.SHM_HEADROOM
    assert res.shm_needed(1920, 1080, 7) - res.shm_needed(1920, 1080, 6) == frame
    assert res.shm_needed(1280, 720, 6) < 64 * MiB < res.shm_needed(1920, 1080, 12)


# --- banner -------------------------------------------------------------------------------------


def test_banner_names_variant_cpus_threads_and_limits(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, cpu_max="100000 100000", memory_max=str(GiB))
    put(tmp_path, "proc/self/mounts", "shm /dev/shm tmpfs rw,size=65536k 0 0\n")
    line = res.startup_banner(tmp_path, env={"REALTIME_IMAGE_VARIANT": "cuda"})
    assert "container image 'cuda'" in line
    assert "1 effective CPUs (cgroup quota 1)" in line
    assert "onnxruntime 1, opencv 1, numba 1" in line
    assert "memory limit 1.0 GiB" in line
    assert "/dev/shm 64 MiB" in line


def test_banner_outside_a_container(tmp_path: Path) -> None:
    line = res.startup_banner(tmp_path, env={"REALTIME_ORT_THREADS": "1"})
    assert line.startswith("native (no container)")
    assert "no memory limit" in line and "/dev/shm" not in line
