"""NVIDIA facts: the driver table (data), driver probing with fakes, precision, fixes."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest

from realtime.errors import ConfigError, ProviderError
from realtime.inference import cuda as C
from realtime.inference import device_memory as DM

TABLE = C.load_driver_table()


def test_shipped_table_minimum_drivers() -> None:
    assert TABLE.minimum_driver("12.8", "Linux") == "525.60.13"
    assert TABLE.minimum_driver("12.2", "Windows") == "528.33"
    assert TABLE.minimum_driver("11.8", "Linux") == "450.80.02"
    assert TABLE.minimum_driver("13.0", "Linux") == "580.65.06"
    assert TABLE.minimum_driver("9.0", "Linux") is None
    assert TABLE.toolkit_driver("12.8", "Linux") == "570.26"
    assert TABLE.toolkit_driver("12.4.1", "Windows") == "551.61"
    assert TABLE.gpu_extra_cuda == "13"


def test_driver_too_old_compares_versions_numerically() -> None:
    assert TABLE.driver_too_old("470.82.01", "12.4", "Linux")
    assert TABLE.driver_too_old("525.60.12", "12.0", "Linux")
    assert not TABLE.driver_too_old("525.60.13", "12.8", "Linux")
    assert not TABLE.driver_too_old("1000.1", "12.8", "Linux")
    assert not TABLE.driver_too_old("", "12.8", "Linux")  # unknown is not "too old"


def test_requirement_text_names_minimum_and_recommended() -> None:
    text = TABLE.requirement_text("12.8", "Linux")
    assert "525.60.13" in text and "570.26" in text and "CUDA 12.x" in text


def test_malformed_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"cuda_drivers\.toml"):
        C.load_driver_table("gpu_extra_cuda = 12\n[[minor_compat]]\n")
    with pytest.raises(ConfigError):
        C.load_driver_table("not = [valid")


def test_table_is_data_a_new_release_needs_no_code() -> None:
    table = C.load_driver_table(
        'gpu_extra_cuda = "14"\n[minor_compat]\n"14" = { linux = "600.1", windows = "601.2" }\n'
    )
    assert table.minimum_driver("14.1", "Windows") == "601.2"
    assert table.driver_too_old("599.9", "14.0", "Linux")


class FakeLibcuda:
    """ctypes-style driver API: functions write through byref() pointers."""

    def __init__(self, devices: list[tuple[str, int, int, int]], init_rc: int = 0, version: int = 12040):
        self.devices = devices
        self.init_rc = init_rc
        self.version = version

    @staticmethod
    def _set(ref, value) -> None:
        ref._obj.value = value

    def cuInit(self, flags):
        return self.init_rc

    def cuDriverGetVersion(self, ref):
        self._set(ref, self.version)
        return 0

    def cuDeviceGetCount(self, ref):
        self._set(ref, len(self.devices))
        return 0

    def cuDeviceGet(self, ref, i):
        self._set(ref, i)
        return 0

    def cuDeviceGetName(self, buf, n, dev):
        ctypes.memmove(buf, self.devices[dev.value][0].encode() + b"\0", len(self.devices[dev.value][0]) + 1)
        return 0

    def cuDeviceGetAttribute(self, ref, attr, dev):
        _, major, minor, _ = self.devices[dev.value]
        self._set(ref, major if attr == 75 else minor)
        return 0

    def cuDeviceTotalMem_v2(self, ref, dev):
        self._set(ref, self.devices[dev.value][3] << 20)
        return 0


def test_probe_cuda_driver_reads_devices_through_the_driver_api() -> None:
    lib = FakeLibcuda([("NVIDIA GeForce RTX 3060", 8, 6, 12288), ("Tesla T4", 7, 5, 15360)])
    state = C.probe_cuda_driver(lambda system: (lib, "libcuda.so.1"), system="Linux")
    assert state.error is None and state.cuda_version == "12.4"
    assert [d.name for d in state.devices] == ["NVIDIA GeForce RTX 3060", "Tesla T4"]
    assert state.devices[0].compute_capability == (8, 6) and state.devices[0].cc == "8.6"
    assert state.devices[1].total_memory_mb == 15360


def test_probe_cuda_driver_without_driver_or_gpu() -> None:
    missing = C.probe_cuda_driver(lambda system: None, system="Linux")
    assert missing.devices == () and "libcuda" in (missing.error or "")
    no_gpu = C.probe_cuda_driver(
        lambda system: (FakeLibcuda([], init_rc=100), "libcuda.so.1"), system="Linux"
    )
    assert no_gpu.devices == () and "no CUDA-capable GPU" in (no_gpu.error or "")
    mac = C.probe_cuda_driver(lambda system: None, system="Darwin")
    assert "not available on Darwin" in (mac.error or "")


def test_this_machine_has_no_driver_and_says_so() -> None:
    state = C.probe_cuda_driver()
    if state.devices:
        pytest.skip("a GPU is present")
    assert state.error


def test_nvidia_driver_version_sources(tmp_path: Path) -> None:
    proc = tmp_path / "version"
    proc.write_text(
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  "
        "Release Build  (dvs-builder@U16)\n"
    )
    assert C.nvidia_driver_version(proc, run=lambda a: "") == "550.54.14"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.82.01  Thu Oct 28 2021\n")
    assert C.nvidia_driver_version(proc, run=lambda a: "") == "470.82.01"
    assert C.nvidia_driver_version(tmp_path / "absent", run=lambda a: "535.104.05\n") == "535.104.05"

    def no_smi(args):
        raise FileNotFoundError("nvidia-smi")

    def failing_smi(args):
        raise subprocess.CalledProcessError(9, "nvidia-smi")

    assert C.nvidia_driver_version(tmp_path / "absent", run=no_smi) is None
    assert C.nvidia_driver_version(tmp_path / "absent", run=failing_smi) is None


RTX = C.CudaDevice(0, "NVIDIA GeForce RTX 3060", (8, 6), 12288)
GTX1660 = C.CudaDevice(0, "NVIDIA GeForce GTX 1660 SUPER", (7, 5), 6144)
GTX1080 = C.CudaDevice(0, "NVIDIA GeForce GTX 1080", (6, 1), 8192)


def test_choose_precision() -> None:
    assert C.choose_precision("auto", RTX)[0] == "fp16"
    assert C.choose_precision("auto", GTX1660)[0] == "fp32"
    assert "NaN" in C.choose_precision("auto", GTX1660)[1]
    assert C.choose_precision("auto", GTX1080)[0] == "fp32"  # Pascal consumer cards have slow FP16
    assert C.choose_precision("fp32", RTX)[0] == "fp32"
    assert C.choose_precision("fp16", GTX1080)[0] == "fp16"  # an explicit request is obeyed
    assert C.choose_precision("auto", RTX, builder_supports_fp16=False)[0] == "fp32"
    assert C.choose_precision("auto", None)[0] == "fp32"
    with pytest.raises(ConfigError):
        C.choose_precision("int8", RTX)


@pytest.mark.parametrize(
    ("error", "driver", "expect"),
    [
        ("CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version", None, "525.60.13"),
        ("whatever", "470.82.01", "470.82.01 is too old"),
        ("CUDNN_STATUS_ALLOC_FAILED", "550.54.14", "out of memory"),
        ("libcudnn.so.9: cannot open shared object file", "550.54.14", "onnxruntime-gpu[cuda,cudnn]"),
        ("libcublasLt.so.12: cannot open shared object file", "550.54.14", "runtime libraries"),
        ("no CUDA-capable device is detected", "550.54.14", "nvidia-smi"),
        ("unexpected", None, "install the NVIDIA driver"),
        ("unexpected", "550.54.14", "realtime doctor"),
    ],
)
def test_explain_cuda_failure(error: str, driver: str | None, expect: str) -> None:
    fix = C.explain_cuda_failure(error, driver=driver, cuda="12.4", table=TABLE, system="Linux")
    assert expect in fix


def test_no_memory_api_is_a_provider_error_with_the_fix() -> None:
    with pytest.raises(ProviderError, match="pip install cuda-python"):
        DM.open_device_memory(prefer="no-such-api")
    assert set(DM.installed_memory_apis()) <= {"cuda-python", "cupy", "torch"}
