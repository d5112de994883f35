"""``realtime doctor``: the real report on this machine, and faked machines with problems.

The JSON output is checked against ``realtime/assets/doctor.schema.json`` with a small
validator written here (jsonschema is not a dependency); the validator is tested too.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from realtime import doctor as D
from realtime.commands import doctor as command
from realtime.doctor import probes as P
from realtime.doctor import runtime as R
from tests.gpu import needs_gpu

SCHEMA = json.loads(resources.files("realtime").joinpath("assets/doctor.schema.json").read_text())

# --- a tiny JSON Schema validator (the subset the doctor schema uses) -------------------------

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: dict, root: dict | None = None, path: str = "$") -> list[str]:
    """Errors of ``value`` against ``schema``: type, enum, minimum, properties, required,
    additionalProperties, items, anyOf and local ``$ref``."""
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return validate(value, target, root, path)
    if "anyOf" in schema:
        if any(not validate(value, s, root, path) for s in schema["anyOf"]):
            return []
        return [f"{path}: matches none of anyOf"]
    errors: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: {value!r} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        for key, item in value.items():
            if key in props:
                errors += validate(item, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(item, schema["additionalProperties"], root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors


def test_validator_catches_what_it_claims_to() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "additionalProperties": False,
        "properties": {
            "a": {"type": "integer", "minimum": 0},
            "b": {"anyOf": [{"$ref": "#/$defs/s"}, {"type": "null"}]},
            "c": {"type": "array", "items": {"enum": ["x", "y"]}},
        },
        "$defs": {"s": {"type": "string"}},
    }
    assert validate({"a": 1, "b": "s", "c": ["x"]}, schema) == []
    assert validate({"a": 1, "b": None}, schema) == []
    assert validate({}, schema)
    assert validate({"a": -1}, schema)
    assert validate({"a": True}, schema)  # a bool is not an integer
    assert validate({"a": 1, "b": 3}, schema)
    assert validate({"a": 1, "c": ["z"]}, schema)
    assert validate({"a": 1, "d": 0}, schema)


# --- the real machine -------------------------------------------------------------------------


def run_command(json_out: bool, probes: D.Probes | None = None) -> tuple[int, str]:
    out = io.StringIO()
    rc = command.run(argparse.Namespace(json=json_out), probes=probes, out=out)
    return rc, out.getvalue()


def test_doctor_on_this_machine_validates_and_explains_cpu_only() -> None:
    rc, text = run_command(json_out=True)
    report = json.loads(text)
    assert validate(report, SCHEMA) == []
    assert rc == 0 and report["summary"]["ok"] is True
    assert "cpu" in report["providers"]["usable"]
    bundled = [m for m in report["models"]["models"] if m["bundled"]]
    assert bundled and all(m["status"] == "ok" for m in bundled)
    if report["gpu"]["gpus"]:
        pytest.skip("this machine has an NVIDIA GPU; the CPU-only explanation does not apply")
    assert report["summary"]["cpu_only"] is True
    cpu_only = [p for p in report["problems"] if p["what"].startswith("CPU only")]
    assert len(cpu_only) == 1
    assert "pip uninstall -y onnxruntime" in cpu_only[0]["fix"]
    assert "pip install 'realtime-faceswap[gpu]'" in cpu_only[0]["fix"]
    assert "580.65.06" in cpu_only[0]["fix"]
    assert report["gpu"]["why_none"]


def test_doctor_text_output_on_this_machine() -> None:
    rc, text = run_command(json_out=False)
    assert rc == 0
    for heading in (
        "System",
        "CPU",
        "GPU",
        "CUDA",
        "TensorRT",
        "ONNX Rt.",
        "Providers",
        "Cameras",
        "Virtual cam",
    ):
        assert heading in text
    assert "OK: the main command can run." in text
    if "no NVIDIA GPU" in text:
        assert "CPU only" in text and "pip install 'realtime-faceswap[gpu]'" in text


def test_triton_is_a_provider_only_with_a_server() -> None:
    """Without --remote nothing runs on Triton, so doctor must not offer it (it said
    "Runs on triton > litert > cpu" on a machine with tritonclient and no server)."""
    if importlib.util.find_spec("tritonclient") is None:
        pytest.skip("tritonclient is not installed: Triton was never offered")
    cmd = [sys.executable, "-m", "realtime", "doctor"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    runs_on = [line for line in done.stdout.splitlines() if line.startswith("Runs on")]
    assert runs_on and "triton" not in runs_on[0], done.stdout
    assert "only with --remote" in done.stdout
    report = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120).stdout)
    assert "triton" not in report["providers"]["usable"]
    rows = {b["name"]: b for b in report["providers"]["backends"]}
    assert rows["triton"]["available"] is False and "--remote" in rows["triton"]["reason"]


# --- fake machines ----------------------------------------------------------------------------


def healthy() -> dict[str, Any]:
    """Facts of a well set-up Linux machine with an NVIDIA GPU."""
    return {
        "system": {
            "os": "Linux",
            "os_release": "6.8.0",
            "platform": "Linux-6.8.0-x86_64",
            "machine": "x86_64",
            "python": "3.11.7",
            "python_implementation": "CPython",
            "executable": "/usr/bin/python3",
            "cpu": "Fake CPU",
            "cpu_count": 8,
            "cpu_usable": 8,
            "ram_mb": 32000,
            "shm_mb": 16000,
        },
        "gpu": {
            "source": "nvidia-smi",
            "driver": "570.86.10",
            "cuda_driver_api": "12.8",
            "gpus": [
                {
                    "index": 0,
                    "name": "NVIDIA GeForce RTX 3060",
                    "memory_mb": 12288,
                    "compute_capability": "8.6",
                }
            ],
            "why_none": None,
        },
        "cuda": {"onnxruntime_built_with": "12.8", "runtime": "12.8", "cudnn": "9.7.0"},
        "tensorrt": {"installed": False, "version": None, "error": None},
        "onnxruntime": {
            "installed": True,
            "package": "onnxruntime-gpu",
            "version": "1.22.0",
            "build": None,
            "device": "GPU",
            "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
            "distributions": ["onnxruntime-gpu"],
            "directml": False,
            "error": None,
        },
        "providers": {
            "order": ["cuda", "cpu"],
            "usable": ["cuda", "cpu"],
            "backends": [
                {
                    "name": "cuda",
                    "description": "CUDA",
                    "available": True,
                    "installed": True,
                    "reason": None,
                    "fix": None,
                },
                {
                    "name": "cpu",
                    "description": "CPU",
                    "available": True,
                    "installed": True,
                    "reason": None,
                    "fix": None,
                },
            ],
        },
        "cameras": {
            "available": True,
            "devices": [{"device": "/dev/video0", "name": "Webcam", "virtual": False}],
            "error": None,
        },
        "virtual_camera": {
            "kind": "v4l2loopback",
            "installed": True,
            "loaded": True,
            "exclusive_caps": True,
            "devices": [{"device": "/dev/video10", "name": "realtime", "exclusive_caps": True}],
        },
        "models": {
            "dir": "/cache/models",
            "error": None,
            "models": [
                {
                    "name": "face_landmark",
                    "kind": "landmarker",
                    "bundled": True,
                    "path": "/pkg/face_landmark.onnx",
                    "status": "ok",
                    "detail": None,
                },
                {
                    "name": "inswapper_128",
                    "kind": "swapper",
                    "bundled": False,
                    "path": "/cache/models/inswapper_128.onnx",
                    "status": "ok",
                    "detail": None,
                },
            ],
        },
        "engines": {"dir": "/repo/engines", "entries": [], "ort_tensorrt_dirs": []},
        "container": {"in_container": False, "image_variant": None},
    }


def fake(**changes: Any) -> D.Probes:
    """Probes returning ``healthy()`` with some sections changed (dict values are merged)."""
    facts = healthy()
    for key, value in changes.items():
        if callable(value):
            facts[key] = value
        elif isinstance(value, dict):
            facts[key] = {**facts[key], **value}
        else:
            facts[key] = value
    return D.Probes(**{k: (v if callable(v) else (lambda v=v: v)) for k, v in facts.items()})


def problems_of(report: dict) -> list[dict]:
    return report["problems"]


def one(report: dict, text: str) -> dict:
    hits = [p for p in problems_of(report) if text in p["what"]]
    assert len(hits) == 1, (text, problems_of(report))
    return hits[0]


def test_healthy_machine_has_no_problems() -> None:
    report = D.build_report(fake())
    assert validate(report, SCHEMA) == []
    assert problems_of(report) == []
    assert report["summary"] == {
        "ok": True,
        "provider": "cuda",
        "cpu_only": False,
        "errors": 0,
        "warnings": 0,
    }


def test_old_driver_is_reported_with_the_minimum_driver() -> None:
    report = D.build_report(fake(gpu={"driver": "470.82.01"}))
    p = one(report, "470.82.01 is too old for CUDA 12.x")
    assert p["severity"] == "warning"
    assert "525.60.13" in p["fix"] and "570.26" in p["fix"]
    assert validate(report, SCHEMA) == []
    assert D.exit_code(report) == 0  # the CPU still runs


def test_missing_v4l2loopback_from_real_sysfs_probe(tmp_path: Path) -> None:
    vcam = P.probe_virtual_camera(system="Linux", sys_root=tmp_path)
    assert vcam["loaded"] is False
    report = D.build_report(fake(virtual_camera=lambda: vcam))
    p = one(report, "v4l2loopback is not loaded")
    assert "modprobe v4l2loopback" in p["fix"] and "exclusive_caps=1" in p["fix"]
    assert validate(report, SCHEMA) == []


def make_sysfs(root: Path, caps: str) -> None:
    params = root / "module" / "v4l2loopback" / "parameters"
    params.mkdir(parents=True)
    (params / "exclusive_caps").write_text(caps + "\n")
    real = root / "devices" / "virtual" / "video4linux" / "video10"
    real.mkdir(parents=True)
    (real / "name").write_text("realtime\n")
    usb = root / "devices" / "pci0000:00" / "video4linux" / "video0"
    usb.mkdir(parents=True)
    (usb / "name").write_text("Integrated Webcam\n")
    cls = root / "class" / "video4linux"
    cls.mkdir(parents=True)
    os.symlink(real, cls / "video10")
    os.symlink(usb, cls / "video0")


def test_v4l2loopback_without_exclusive_caps(tmp_path: Path) -> None:
    make_sysfs(tmp_path, "N,N,N,N,N,N,N,N")
    vcam = P.probe_virtual_camera(system="Linux", sys_root=tmp_path)
    assert vcam["loaded"] and vcam["devices"] == [
        {"device": "/dev/video10", "name": "realtime", "exclusive_caps": False}
    ]
    report = D.build_report(fake(virtual_camera=lambda: vcam))
    assert "Zoom and Meet" in one(report, "exclusive_caps=1")["what"]


def test_v4l2loopback_with_exclusive_caps_is_fine(tmp_path: Path) -> None:
    make_sysfs(tmp_path, "Y,N,N,N,N,N,N,N")
    vcam = P.probe_virtual_camera(system="Linux", sys_root=tmp_path)
    assert vcam["exclusive_caps"] is True
    report = D.build_report(fake(virtual_camera=lambda: vcam))
    assert not [p for p in problems_of(report) if "v4l2loopback" in p["what"]]


def test_obs_virtual_camera_on_windows_and_macos() -> None:
    win = P.probe_virtual_camera(system="Windows", check_registry=lambda key: False)
    report = D.build_report(fake(virtual_camera=lambda: win))
    assert "obsproject.com" in one(report, "OBS virtual camera is not installed")["fix"]
    keys = []
    assert P.probe_virtual_camera(system="Windows", check_registry=lambda k: keys.append(k) or True)[
        "installed"
    ]
    assert P.OBS_VCAM_CLSID in keys[0]
    mac = P.probe_virtual_camera(system="Darwin", exists=lambda p: "SystemExtensions" in p)
    assert mac["installed"] and mac["devices"]


def test_missing_model_with_its_fetch_command() -> None:
    models = healthy()["models"]
    models["models"][1]["status"] = "missing"
    report = D.build_report(fake(models=models))
    p = one(report, "model inswapper_128 (swapper) is not downloaded")
    assert p["fix"] == "realtime models fetch inswapper_128"
    assert D.exit_code(report) == 0


def test_corrupt_downloaded_model() -> None:
    models = healthy()["models"]
    models["models"][1].update(status="corrupt", detail="sha256 0000..., expected 1111...")
    report = D.build_report(fake(models=models))
    p = one(report, "model inswapper_128 is corrupt")
    assert p["severity"] == "warning" and "realtime models fetch inswapper_128" in p["fix"]


def test_corrupt_bundled_model_means_exit_non_zero() -> None:
    models = healthy()["models"]
    models["models"][0].update(status="corrupt", detail="2 bytes, expected 2438747")
    report = D.build_report(fake(models=models))
    p = one(report, "bundled model face_landmark is corrupt")
    assert p["severity"] == "error" and "reinstall" in p["fix"]
    assert D.exit_code(report) == 1
    rc, text = run_command(json_out=False, probes=fake(models=models))
    assert rc == 1 and "NOT OK" in text and "ERROR" in text


def test_no_backend_at_all_means_exit_non_zero() -> None:
    providers = {
        "order": ["cpu"],
        "usable": [],
        "backends": [
            {
                "name": "cpu",
                "description": "CPU",
                "available": False,
                "installed": False,
                "reason": "onnxruntime is not installed",
                "fix": "pip install 'realtime-faceswap[cpu]'",
            }
        ],
    }
    report = D.build_report(fake(providers=providers))
    p = one(report, "no inference backend")
    assert p["severity"] == "error" and p["fix"] == "pip install 'realtime-faceswap[cpu]'"
    assert D.exit_code(report) == 1 and report["summary"]["provider"] is None


def test_gpu_with_cpu_build_of_onnxruntime() -> None:
    report = D.build_report(
        fake(
            onnxruntime={
                "package": "onnxruntime",
                "providers": ["CPUExecutionProvider"],
                "distributions": ["onnxruntime"],
            },
            cuda={"onnxruntime_built_with": None},
            providers={"usable": ["cpu"], "backends": [healthy()["providers"]["backends"][1]]},
        )
    )
    p = one(report, "ONNX Runtime is the CPU build")
    assert "pip uninstall -y onnxruntime && pip install 'realtime-faceswap[gpu]'" in p["fix"]
    assert report["summary"]["cpu_only"] is True


def test_installed_but_unusable_provider_and_two_onnxruntimes() -> None:
    backends = [
        {
            "name": "cuda",
            "description": "CUDA",
            "available": False,
            "installed": True,
            "reason": "the NVIDIA driver library (libcuda) was not found",
            "fix": "install NVIDIA driver >= 525.60.13",
        },
        healthy()["providers"]["backends"][1],
    ]
    report = D.build_report(
        fake(
            providers={"usable": ["cpu"], "backends": backends},
            onnxruntime={"distributions": ["onnxruntime", "onnxruntime-gpu"]},
        )
    )
    assert "525.60.13" in one(report, "provider cuda is installed but cannot run")["fix"]
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in one(report, "several ONNX Runtime builds")["fix"]


def test_no_webcam_and_stale_engines() -> None:
    engines = {
        "dir": "/repo/engines",
        "ort_tensorrt_dirs": [],
        "entries": [
            {
                "file": "a.engine",
                "size_mb": 120.0,
                "trt_version": "8.6.1",
                "gpu": "RTX",
                "precision": "fp16",
                "problem": None,
            },
            {
                "file": "b.engine",
                "size_mb": 1.0,
                "trt_version": None,
                "gpu": None,
                "precision": None,
                "problem": "bad magic",
            },
        ],
    }
    report = D.build_report(
        fake(
            cameras={"devices": [{"device": "/dev/video10", "name": "loopback", "virtual": True}]},
            tensorrt={"installed": True, "version": "10.3.0"},
            engines=engines,
        )
    )
    assert one(report, "no capture device")["severity"] == "warning"
    assert "another TensorRT version" in one(report, "cached engine(s)")["what"]
    assert "rebuilt" in one(report, "engine b.engine is unusable")["what"]
    assert validate(report, SCHEMA) == []


def test_a_crashing_probe_does_not_crash_the_doctor() -> None:
    def boom() -> dict:
        raise RuntimeError("sysfs exploded")

    report = D.build_report(fake(virtual_camera=boom))
    assert report["virtual_camera"] == {"probe_error": "RuntimeError: sysfs exploded"}
    assert one(report, "could not check virtual_camera")["severity"] == "warning"
    assert validate(report, SCHEMA) == []
    assert "Virtual cam" in D.render_text(report)


def test_probe_models_statuses(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REALTIME_MODELS_DIR", str(tmp_path))
    (tmp_path / "inswapper_128.onnx").write_bytes(b"too short")
    rows = {m["name"]: m for m in P.probe_models()["models"]}
    assert rows["inswapper_128"]["status"] == "corrupt" and "bytes" in rows["inswapper_128"]["detail"]
    assert rows["hyperswap_1a_256"]["status"] == "missing"
    assert rows["face_landmark"]["status"] == "ok"


def test_probe_gpus_from_nvidia_smi(monkeypatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pynvml" else real_find_spec(name, *a)
    )
    calls = []

    def smi(args):
        calls.append(args)
        if "compute_cap" in args[0]:
            raise subprocess.CalledProcessError(2, "nvidia-smi")  # an old driver without the field
        return "NVIDIA GeForce GTX 1080, 470.82.01, 8192\n"

    from realtime.inference import cuda as C

    got = R.probe_gpus(run_smi=smi, driver_api=lambda: C.CudaDriverState("libcuda.so.1", "11.4", ()))
    assert got["source"] == "nvidia-smi" and got["driver"] == "470.82.01"
    assert got["gpus"] == [
        {"index": 0, "name": "NVIDIA GeForce GTX 1080", "memory_mb": 8192, "compute_capability": None}
    ]
    assert len(calls) == 2

    def missing(args):
        raise FileNotFoundError("nvidia-smi")

    none = R.probe_gpus(
        run_smi=missing, driver_api=lambda: C.CudaDriverState(None, None, (), "libcuda not found")
    )
    assert none["gpus"] == [] and "nvidia-smi not found" in none["why_none"] and "libcuda" in none["why_none"]


@pytest.mark.gpu
@needs_gpu
def test_doctor_sees_the_gpu() -> None:
    report = D.build_report()
    assert report["gpu"]["gpus"] and report["gpu"]["driver"]
    assert validate(report, SCHEMA) == []


def test_inside_a_container_the_checks_add_docker_run_fixes(monkeypatch):
    import realtime.doctor.container as cc

    seen = {}

    def checks(**kw):
        seen.update(kw)
        return [{"severity": "warning", "problem": "no GPU visible", "fix": "docker run --gpus all ..."}]

    monkeypatch.setattr(cc, "container_checks", checks)
    outside = D.build_report(fake())
    assert not any("docker run" in p["fix"] for p in problems_of(outside)) and not seen
    inside = D.build_report(fake(container={"in_container": True, "image_variant": "cuda"}))
    assert ("warning", "no GPU visible", "docker run --gpus all ...") in [
        (p["severity"], p["what"], p["fix"]) for p in problems_of(inside)
    ]
