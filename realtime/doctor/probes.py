"""``realtime doctor``'s probes of what the app uses around the runtimes (cameras, the virtual
camera, the model cache, built engines, the container), and ``collect``, which runs every
probe into one report.

``Probes`` holds the fact-gathering functions so that tests replace any of them.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from realtime import __version__
from realtime.catalog import store
from realtime.catalog.manifest import load_manifests, sha256_file
from realtime.doctor.container_facts import container_report
from realtime.doctor.runtime import (
    probe_cuda,
    probe_gpus,
    probe_onnxruntime,
    probe_providers,
    probe_system,
    probe_tensorrt,
)
from realtime.inference import cuda as cudamod
from realtime.inference.engines import EngineCache

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OBS_VCAM_CLSID = "{A3FCE0F5-3493-419F-958A-ABA1250EC20B}"
MACOS_OBS_CAMERA = (
    "/Applications/OBS.app/Contents/Library/SystemExtensions/com.obsproject.obs-studio.mac-camera-extension.systemextension",
    "/Library/CoreMediaIO/Plug-Ins/DAL/obs-mac-virtualcam.plugin",
)

Report = dict[str, Any]


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def probe_cameras() -> dict[str, Any]:
    """Capture devices through ``realtime.sources.camera.list_cameras`` when it exists."""
    try:
        # OpenCV loads only when cameras are probed (start-up cost).
        from realtime.sources.camera import list_cameras
    except ImportError as exc:
        return {"available": False, "devices": [], "error": f"camera listing unavailable: {exc}"}
    try:
        devices = list_cameras()
    except Exception as exc:
        return {"available": False, "devices": [], "error": f"{type(exc).__name__}: {exc}"}
    return {"available": True, "devices": [_jsonable(d) for d in devices], "error": None}


def _truthy(token: str) -> bool:
    return token.strip().upper() in ("Y", "1", "TRUE")


def probe_virtual_camera(
    system: str | None = None,
    sys_root: Path = Path("/sys"),
    check_registry: Callable[[str], bool] | None = None,
    exists: Callable[[str], bool] = os.path.exists,
) -> dict[str, Any]:
    """v4l2loopback state on Linux; the OBS virtual camera on Windows and macOS."""
    system = system or platform.system()
    if system == "Linux":
        module = sys_root / "module" / "v4l2loopback"
        loaded = module.is_dir()
        caps_file = module / "parameters" / "exclusive_caps"
        caps = None
        if caps_file.is_file():
            try:
                caps = [_truthy(t) for t in caps_file.read_text().strip().split(",") if t.strip()]
            except OSError:
                caps = None
        devices: list[dict[str, Any]] = []
        for node in sorted(
            (sys_root / "class" / "video4linux").glob("video*"),
            key=lambda p: int(re.sub(r"\D", "", p.name) or 0),
        ):
            try:
                name = (node / "name").read_text(errors="replace").strip()
            except OSError:
                name = ""
            if "/devices/virtual/" in os.path.realpath(node):
                devices.append({"device": f"/dev/{node.name}", "name": name})
        for i, dev in enumerate(devices):
            dev["exclusive_caps"] = bool(caps[i]) if caps is not None and i < len(caps) else None
        return {
            "kind": "v4l2loopback",
            "installed": loaded,
            "loaded": loaded,
            "exclusive_caps": any(caps[: max(1, len(devices))]) if caps else False,
            "devices": devices,
        }
    if system == "Windows":
        check = check_registry or _registry_key_exists
        found = check(f"CLSID\\{OBS_VCAM_CLSID}")
        return {"kind": "obs", "installed": found, "loaded": found, "exclusive_caps": None, "devices": []}
    if system == "Darwin":
        paths = [p for p in MACOS_OBS_CAMERA if exists(p)]
        return {
            "kind": "obs",
            "installed": bool(paths),
            "loaded": bool(paths),
            "exclusive_caps": None,
            "devices": [{"device": p, "name": "OBS Virtual Camera"} for p in paths],
        }
    return {"kind": "none", "installed": False, "loaded": False, "exclusive_caps": None, "devices": []}


def _registry_key_exists(subkey: str) -> bool:
    if sys.platform != "win32":
        return False
    # Windows only.
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, subkey):
            return True
    except OSError:
        return False


def probe_models() -> dict[str, Any]:
    """Each model of the manifests: bundled or downloaded, present, intact."""
    try:
        specs = load_manifests()
    except Exception as exc:
        return {"dir": None, "models": [], "error": f"{type(exc).__name__}: {exc}"}
    models_dir = Path(store.resolve_models_dir())
    rows = []
    for spec in specs.values():
        path = spec.bundled_path if spec.bundled else models_dir / spec.file
        row: dict[str, Any] = {
            "name": spec.name,
            "kind": spec.kind,
            "bundled": spec.bundled,
            "path": str(path),
            "status": "ok",
            "detail": None,
        }
        rows.append(row)
        if not path.is_file():
            row["status"] = "missing"
            continue
        size = path.stat().st_size
        if spec.size and size != spec.size:
            row.update(status="corrupt", detail=f"{size} bytes, expected {spec.size}")
            continue
        expected = spec.sha256
        if not expected and store is not None and hasattr(store, "expected_sha256"):
            expected = store.expected_sha256(spec, models_dir)[0]
        if not expected:
            row.update(status="unverified", detail="no published sha256")
            continue
        if store is not None and hasattr(store, "cached_sha256") and not spec.bundled:
            digest = store.cached_sha256(path)
        else:
            digest = sha256_file(path)
        if digest != expected:
            row.update(status="corrupt", detail=f"sha256 {digest[:12]}..., expected {expected[:12]}...")
    return {"dir": str(models_dir), "models": rows, "error": None}


def probe_engines() -> dict[str, Any]:
    cache = EngineCache()
    entries = []
    for e in cache.entries():
        entries.append(
            {
                "file": e.path.name,
                "size_mb": round(e.size / (1 << 20), 1),
                "trt_version": (e.key or {}).get("trt_version"),
                "gpu": (e.key or {}).get("gpu_name"),
                "precision": (e.key or {}).get("precision"),
                "problem": e.problem,
            }
        )
    ort_trt = cache.root / "ort-tensorrt"
    return {
        "dir": str(cache.root),
        "entries": entries,
        "ort_tensorrt_dirs": sorted(p.name for p in ort_trt.iterdir() if p.is_dir())
        if ort_trt.is_dir()
        else [],
    }


def probe_container() -> dict[str, Any]:
    return container_report()


@dataclass
class Probes:
    """The fact-gathering functions; tests replace any of them."""

    system: Callable[[], dict[str, Any]] = probe_system
    gpu: Callable[[], dict[str, Any]] = probe_gpus
    cuda: Callable[[], dict[str, Any]] = probe_cuda
    tensorrt: Callable[[], dict[str, Any]] = probe_tensorrt
    onnxruntime: Callable[[], dict[str, Any]] = probe_onnxruntime
    providers: Callable[[], dict[str, Any]] = probe_providers
    cameras: Callable[[], dict[str, Any]] = probe_cameras
    virtual_camera: Callable[[], dict[str, Any]] = probe_virtual_camera
    models: Callable[[], dict[str, Any]] = probe_models
    engines: Callable[[], dict[str, Any]] = probe_engines
    container: Callable[[], dict[str, Any]] = probe_container
    driver_table: Callable[[], cudamod.DriverTable] = field(default=cudamod.load_driver_table)


SECTIONS = (
    "system",
    "gpu",
    "cuda",
    "tensorrt",
    "onnxruntime",
    "providers",
    "cameras",
    "virtual_camera",
    "models",
    "engines",
    "container",
)


def collect(probes: Probes) -> Report:
    """Run every probe; one that crashes becomes a ``probe_error`` in its section."""
    report: Report = {"schema_version": SCHEMA_VERSION}
    report["realtime_version"] = str(__version__)
    for name in SECTIONS:
        try:
            report[name] = _jsonable(getattr(probes, name)())
        except Exception as exc:
            log.debug("doctor probe %s failed", name, exc_info=True)
            report[name] = {"probe_error": f"{type(exc).__name__}: {exc}"}
    return report
