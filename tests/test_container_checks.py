"""container_checks over fake /dev, /sys and /proc trees: each finding and its docker flag."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from realtime.doctor import container as cc
from realtime.doctor import container_facts as cf

MiB = 1 << 20
GiB = 1 << 30
USER = (10001, {10001})

TABLE_TEXT = """
gpu_extra_cuda = "12"
[minor_compat]
"13" = { linux = "580.65.06", windows = "" }
"12" = { linux = "525.60.13", windows = "528.33" }
[[toolkit]]
cuda = "12.4"
label = "CUDA 12.4 GA"
linux = "550.54.14"
windows = "551.61"
[[toolkit]]
cuda = "12.8"
label = "CUDA 12.8 GA"
linux = "570.26"
windows = "570.65"
[[toolkit]]
cuda = "13.0"
label = "CUDA 13.0 GA"
linux = "580.65.06"
windows = ""
"""
TABLE = cf.load_driver_table(TABLE_TEXT)
PROC_VERSION = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  {v}  Thu Feb 22 01:44:30 UTC 2024\n"


def put(root: Path, rel: str, text: str = "", mode: int | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def container(root: Path, shm: str = "size=65536k") -> Path:
    """A container root with a camera and a loopback device passed in, unlimited CPU and memory."""
    put(root, ".dockerenv")
    put(root, "proc/self/mounts", f"shm /dev/shm tmpfs rw,nosuid,nodev,{shm} 0 0\n")
    put(root, "sys/class/video4linux/video0/name", "HD Pro Webcam C920\n")
    put(root, "sys/class/video4linux/video10/name", "Dummy video device (0x0000)\n")
    put(root, "dev/video0", mode=0o666)
    put(root, "dev/video10", mode=0o666)
    return root


def run(root: Path, variant: str | None = "cpu", **kw: object) -> list[dict[str, str]]:
    env = {"REALTIME_IMAGE_VARIANT": variant} if variant else {}
    kw.setdefault("table", TABLE)
    kw.setdefault("ids", USER)
    return cc.container_checks(root, env=env, **kw)  # type: ignore[arg-type]


def problems(found: list[dict[str, str]]) -> list[dict[str, str]]:
    return [f for f in found if f["severity"] != "info"]


def test_nothing_outside_a_container(tmp_path: Path) -> None:
    assert cc.container_checks(tmp_path, env={}, table=TABLE) == []


def test_a_well_set_up_cpu_container_has_no_problems(tmp_path: Path) -> None:
    found = run(container(tmp_path))
    assert problems(found) == []
    (info,) = found
    assert "threads from" in info["problem"] and "--cpus" in info["fix"]


# --- /dev/shm -----------------------------------------------------------------------------------


def test_small_shm_names_the_flag(tmp_path: Path) -> None:
    found = problems(run(container(tmp_path), width=3840, height=2160))
    (shm,) = found
    assert "/dev/shm is 64 MiB" in shm["problem"] and "3840x2160" in shm["problem"]
    need = cc.res.shm_needed(3840, 2160, cf.ring_slots_for(1))
    flag_mb = int(shm["fix"].split("--shm-size=")[1].split("m")[0])
    assert flag_mb * MiB >= need and flag_mb % 64 == 0


def test_enough_shm_is_quiet(tmp_path: Path) -> None:
    assert problems(run(container(tmp_path, shm="size=1g"), width=3840, height=2160)) == []


# --- GPU and driver ------------------------------------------------------------------------------


def test_cuda_image_without_a_gpu_says_gpus_all(tmp_path: Path) -> None:
    (gpu,) = problems(run(container(tmp_path), variant="cuda"))
    assert "no NVIDIA GPU is visible" in gpu["problem"]
    assert "--gpus all" in gpu["fix"]


def gpu_root(root: Path, driver: str | None = None) -> Path:
    container(root)
    put(root, "dev/nvidiactl")
    put(root, "dev/nvidia0")
    if driver:
        put(root, "proc/driver/nvidia/version", PROC_VERSION.format(v=driver))
    return root


def test_old_driver_is_an_error_naming_the_minimum(tmp_path: Path) -> None:
    found = run(gpu_root(tmp_path), variant="cuda", cuda_runtime="13.0", driver="550.54.14")
    assert found[0]["severity"] == "error"  # errors first
    assert "550.54.14 is older than 580.65.06" in found[0]["problem"]
    assert "CUDA 13.0" in found[0]["problem"]


def test_driver_read_from_proc_when_not_given(tmp_path: Path) -> None:
    root = gpu_root(tmp_path, driver="535.54.03")
    assert cf.host_driver(root) == "535.54.03"
    found = problems(run(root, variant="cuda", cuda_runtime="13.0"))
    assert [f["severity"] for f in found] == ["error"]
    found = problems(run(gpu_root(tmp_path / "new", driver="580.82.07"), variant="cuda", cuda_runtime="13.0"))
    assert found == []


def test_cuda_12_runtime_on_a_535_driver_is_fine(tmp_path: Path) -> None:
    assert problems(run(gpu_root(tmp_path), variant="cuda", cuda_runtime="12.8", driver="535.54.03")) == []


def test_wsl2_gpu_uses_the_windows_minimum(tmp_path: Path) -> None:
    container(tmp_path)
    put(tmp_path, "dev/dxg")
    put(tmp_path, "usr/lib/wsl/lib/libcuda.so.1")
    assert cf.gpu_visible(tmp_path) and cf.is_wsl(tmp_path)
    (err,) = problems(run(tmp_path, variant="cuda", cuda_runtime="12.4", driver="527.10"))
    assert "older than 528.33" in err["problem"]
    assert problems(run(tmp_path, variant="cuda", cuda_runtime="12.4", driver="551.61")) == []


def test_gpu_passed_to_the_cpu_image_points_at_the_cuda_image(tmp_path: Path) -> None:
    found = run(gpu_root(tmp_path), variant="cpu")
    hints = [f for f in found if "cuda image" in f["fix"]]
    assert hints and hints[0]["severity"] == "info"


def test_runtime_version_from_the_nvidia_wheels() -> None:
    versions = {"nvidia-cuda-runtime-cu12": "12.8.90"}

    def version_of(name: str) -> str:
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    assert cf.installed_cuda_runtime(version_of) == "12.8"
    versions["nvidia-cuda-runtime"] = "13.0.96"  # CUDA 13 wheels lost the suffix; newest wins
    assert cf.installed_cuda_runtime(version_of) == "13.0"
    versions.clear()
    assert cf.installed_cuda_runtime(version_of) is None


# --- devices --------------------------------------------------------------------------------------


def test_missing_camera_and_loopback_name_the_host_devices(tmp_path: Path) -> None:
    root = container(tmp_path)
    (root / "dev/video0").unlink()
    (root / "dev/video10").unlink()
    found = problems(run(root))
    fixes = " ".join(f["fix"] for f in found)
    assert "--device /dev/video0" in fixes and "--group-add" in fixes
    assert "--device /dev/video10" in fixes
    assert len(found) == 2


def test_no_loopback_module_on_the_host(tmp_path: Path) -> None:
    root = container(tmp_path)
    (root / "sys/class/video4linux/video10/name").write_text("UVC metadata\n")
    (found,) = [f for f in problems(run(root)) if "v4l2loopback" in f["problem"]]
    assert "modprobe v4l2loopback" in found["fix"]


def test_explicit_device_not_passed_in(tmp_path: Path) -> None:
    (err,) = problems(run(container(tmp_path), devices=["/dev/video2"]))
    assert err["severity"] == "error" and err["fix"] == "docker run --device /dev/video2 ..."


def test_device_without_permission_needs_group_add(tmp_path: Path) -> None:
    root = container(tmp_path)
    (root / "dev/video0").chmod(0o660)
    (err,) = problems(run(root, devices=["/dev/video0"], ids=(10001, {10001})))
    assert "may not open it" in err["problem"] and "--group-add" in err["fix"]
    gid = (root / "dev/video0").stat().st_gid
    assert problems(run(root, devices=["/dev/video0"], ids=(10001, {10001, gid}))) == []


# --- CPU, memory, threads ---------------------------------------------------------------------------


def test_one_cpu_and_little_memory(tmp_path: Path) -> None:
    root = container(tmp_path)
    put(root, "proc/self/cgroup", "0::/\n")
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n")
    put(root, "sys/fs/cgroup/cpu.max", "100000 100000\n")
    put(root, "sys/fs/cgroup/memory.max", f"{GiB}\n")
    fixes = [f["fix"] for f in problems(run(root))]
    assert any(f.startswith("docker run --cpus 2") for f in fixes)
    assert any(f.startswith(f"docker run --memory {cc.MIN_MEMORY >> 30}g") for f in fixes)


def test_thread_override_beyond_the_cpus(tmp_path: Path) -> None:
    root = container(tmp_path)
    put(root, "proc/self/cgroup", "0::/\n")
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu\n")
    put(root, "sys/fs/cgroup/cpu.max", "200000 100000\n")
    found = cc.container_checks(
        root, env={"REALTIME_IMAGE_VARIANT": "cpu", "REALTIME_ORT_THREADS": "16"}, table=TABLE, ids=USER
    )
    (warn,) = problems(found)
    assert "REALTIME_ORT_THREADS=16" in warn["problem"]
    assert warn["fix"].startswith("docker run -e REALTIME_ORT_THREADS=")


# --- the driver table --------------------------------------------------------------------------------


def test_driver_rows_for_a_major() -> None:
    rows = cf.driver_rows(TABLE, "12.8")
    assert [r["cuda"] for r in rows] == ["12.x", "12.8", "12.4"]
    assert rows[0]["linux"] == "525.60.13"
    assert cf.driver_rows(TABLE, "11.8") == []
    assert cf.minimum_driver(TABLE, "13.0") == "580.65.06"
    assert cf.minimum_driver(TABLE, "13.0", "windows") is None


def test_shipped_table_covers_every_major_it_lists() -> None:
    table = cf.load_driver_table()
    majors = {str(cf.version_tuple(r["cuda"])[0]) for r in table["toolkit"]}
    assert majors and majors <= set(table["minor_compat"])
    for major in majors:
        assert cf.minimum_driver(table, f"{major}.0")


@pytest.mark.parametrize("slots", [6, 8])
def test_report_has_the_facts_behind_the_checks(tmp_path: Path, slots: int) -> None:
    report = cf.container_report(
        container(tmp_path), env={"REALTIME_IMAGE_VARIANT": "cpu"}, workers=slots // 2 - 2
    )
    assert report["in_container"] and report["image_variant"] == "cpu"
    assert report["shm_bytes"] == 64 * MiB
    assert report["shm_needed_bytes"] == cc.res.shm_needed(1280, 720, slots)
    assert report["threads"]["cpus"] == report["effective_cpus"]
