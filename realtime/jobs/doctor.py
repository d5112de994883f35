"""``realtime doctor``: what this machine has, what runs where, and what to fix.

Three layers, so each can be tested alone: ``Probes`` gather facts (each a function that
returns a plain dict, replaceable by a fake); ``diagnose`` turns a report into problems, each
one line with its fix; ``render_text`` formats the report. Nothing here prints.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from realtime.inference import cuda as cudamod

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OBS_VCAM_CLSID = "{A3FCE0F5-3493-419F-958A-ABA1250EC20B}"
MACOS_OBS_CAMERA = (
    "/Applications/OBS.app/Contents/Library/SystemExtensions/com.obsproject.obs-studio.mac-camera-extension.systemextension",
    "/Library/CoreMediaIO/Plug-Ins/DAL/obs-mac-virtualcam.plugin",
)
ORT_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-silicon",
    "onnxruntime-qnn",
)
V4L2LOOPBACK_FIX = (
    "sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
    "exclusive_caps=1 card_label=realtime"
)

Report = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """One finding: ``error`` means the main command cannot run; ``warning`` degrades it;
    ``info`` explains a choice (e.g. why it runs on the CPU)."""

    severity: str
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.what} - fix: {self.fix}" if self.fix else self.what


# ---------------------------------------------------------------------------------------------
# Probes: each returns a JSON-ready dict and may be replaced by a fake
# ---------------------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return " ".join(text.strip().split("\n")[0].split())


def probe_system() -> dict[str, Any]:
    """OS, Python, CPU, RAM and /dev/shm."""
    shm_mb = None
    if Path("/dev/shm").is_dir():
        try:
            shm_mb = shutil.disk_usage("/dev/shm").total // (1 << 20)
        except OSError:
            shm_mb = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "os": platform.system(),
        "os_release": platform.release(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count() or 1,
        "cpu_usable": affinity or 1,
        "ram_mb": _ram_mb(),
        "shm_mb": shm_mb,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_mb() -> int | None:
    if importlib.util.find_spec("psutil") is not None:
        import psutil

        return int(psutil.virtual_memory().total // (1 << 20))
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20))
    except (ValueError, OSError, AttributeError):
        return None


def probe_gpus(
    run_smi: Callable[[Sequence[str]], str] | None = None,
    driver_api: Callable[[], cudamod.CudaDriverState] = cudamod.probe_cuda_driver,
) -> dict[str, Any]:
    """NVIDIA GPUs and the driver: NVML when pynvml imports, else nvidia-smi."""
    state = driver_api()
    out: dict[str, Any] = {
        "source": "none",
        "driver": None,
        "cuda_driver_api": state.cuda_version,
        "gpus": [],
        "why_none": None,
    }
    tried = []
    if importlib.util.find_spec("pynvml") is not None:
        try:
            out.update(_nvml_gpus())
            return out
        except Exception as exc:  # NVML raises its own error types
            tried.append(f"NVML: {exc}")
    else:
        tried.append("pynvml is not installed")
    run_smi = run_smi or cudamod._run_nvidia_smi
    try:
        out.update(_smi_gpus(run_smi))
        return out
    except FileNotFoundError:
        tried.append("nvidia-smi not found")
    except (OSError, subprocess.SubprocessError) as exc:
        tried.append(f"nvidia-smi failed: {exc}")
    if state.error:
        tried.append(state.error)
    out["why_none"] = "; ".join(tried)
    return out


def _nvml_gpus() -> dict[str, Any]:
    import pynvml

    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    pynvml.nvmlInit()
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(h)
            gpus.append(
                {
                    "index": i,
                    "name": text(pynvml.nvmlDeviceGetName(h)),
                    "memory_mb": int(pynvml.nvmlDeviceGetMemoryInfo(h).total // (1 << 20)),
                    "compute_capability": f"{major}.{minor}",
                }
            )
        return {"source": "nvml", "driver": text(pynvml.nvmlSystemGetDriverVersion()), "gpus": gpus}
    finally:
        pynvml.nvmlShutdown()


def _smi_gpus(run_smi: Callable[[Sequence[str]], str]) -> dict[str, Any]:
    fields = "name,driver_version,memory.total,compute_cap"
    try:
        raw = run_smi([f"--query-gpu={fields}", "--format=csv,noheader,nounits"])
    except subprocess.CalledProcessError:  # drivers before ~510 lack compute_cap
        raw = run_smi(["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    driver = None
    for i, line in enumerate(r for r in raw.splitlines() if r.strip()):
        cols = [c.strip() for c in line.split(",")]
        driver = driver or (cols[1] if len(cols) > 1 else None)
        mem = int(float(cols[2])) if len(cols) > 2 and re.fullmatch(r"[\d.]+", cols[2]) else None
        cc = cols[3] if len(cols) > 3 and re.fullmatch(r"\d+\.\d+", cols[3]) else None
        gpus.append({"index": i, "name": cols[0], "memory_mb": mem, "compute_capability": cc})
    return {"source": "nvidia-smi", "driver": driver, "gpus": gpus}


def _ctypes_version(names: Sequence[str], func: str, decode: Callable[[int], str]) -> str | None:
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            fn = getattr(lib, func)
            if func == "cudnnGetVersion":
                fn.restype = ctypes.c_size_t
                return decode(int(fn()))
            value = ctypes.c_int(0)
            if fn(ctypes.byref(value)) == 0:
                return decode(value.value)
        except (AttributeError, OSError):
            continue
    return None


def _dist_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _cudnn_text(v: int) -> str:
    if v >= 90000:
        return f"{v // 10000}.{(v % 10000) // 100}.{v % 100}"
    return f"{v // 1000}.{(v % 1000) // 100}.{v % 100}"


def probe_cuda() -> dict[str, Any]:
    """CUDA runtime and cuDNN visible to this process, and what onnxruntime was built with."""
    win = platform.system() == "Windows"
    ort_cuda = None
    if importlib.util.find_spec("onnxruntime") is not None:
        try:
            import onnxruntime

            ort_cuda = str(getattr(onnxruntime, "cuda_version", "") or "") or None
        except Exception as exc:
            log.debug("onnxruntime import failed: %s", exc)
    runtime = _ctypes_version(
        ("cudart64_12.dll", "cudart64_13.dll")
        if win
        else ("libcudart.so.12", "libcudart.so.13", "libcudart.so"),
        "cudaRuntimeGetVersion",
        lambda v: f"{v // 1000}.{(v % 1000) // 10}",
    )
    cudnn = _ctypes_version(
        ("cudnn64_9.dll", "cudnn64_8.dll") if win else ("libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"),
        "cudnnGetVersion",
        _cudnn_text,
    )
    return {
        "onnxruntime_built_with": ort_cuda,
        "runtime": runtime or _dist_version("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu13"),
        "cudnn": cudnn or _dist_version("nvidia-cudnn-cu12", "nvidia-cudnn-cu13"),
    }


def probe_tensorrt() -> dict[str, Any]:
    from realtime.inference.engines import tensorrt_version

    installed = importlib.util.find_spec("tensorrt") is not None
    out: dict[str, Any] = {"installed": installed, "version": tensorrt_version(), "error": None}
    if installed:
        try:
            import tensorrt

            out["version"] = str(tensorrt.__version__)
        except Exception as exc:
            out["error"] = _first_line(str(exc)) or type(exc).__name__
    return out


def probe_onnxruntime() -> dict[str, Any]:
    dists = [d for d in ORT_DISTRIBUTIONS if _dist_version(d)]
    out: dict[str, Any] = {
        "installed": False,
        "package": None,
        "version": None,
        "build": None,
        "device": None,
        "providers": [],
        "distributions": dists,
        "directml": False,
        "error": None,
    }
    if importlib.util.find_spec("onnxruntime") is None:
        return out
    try:
        import onnxruntime as ort
    except Exception as exc:
        out["error"] = _first_line(str(exc)) or type(exc).__name__
        return out
    providers = list(ort.get_available_providers())
    out.update(
        installed=True,
        package=str(getattr(ort, "package_name", "onnxruntime")),
        version=str(ort.__version__),
        build=ort.get_build_info() if hasattr(ort, "get_build_info") else None,
        device=ort.get_device(),
        providers=providers,
        directml="DmlExecutionProvider" in providers,
    )
    return out


def probe_providers() -> dict[str, Any]:
    """Every registered backend, whether it can be tried here, and the automatic order."""
    from realtime.inference.session import BACKENDS, ORDER, probe_backends

    probes = probe_backends()
    rows = []
    for name in ORDER:
        p = probes[name]
        rows.append(
            {
                "name": name,
                "description": BACKENDS[name].description,
                "available": p is None,
                "installed": True if p is None else p.installed,
                "reason": None if p is None else p.reason,
                "fix": None if p is None else (p.fix or None),
            }
        )
    return {"order": list(ORDER), "backends": rows, "usable": [r["name"] for r in rows if r["available"]]}


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
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, subkey):
            return True
    except OSError:
        return False


def probe_models() -> dict[str, Any]:
    """Each model of the manifests: bundled or downloaded, present, intact."""
    from realtime.catalog.manifest import load_manifests, sha256_file

    try:
        specs = load_manifests()
    except Exception as exc:
        return {"dir": None, "models": [], "error": f"{type(exc).__name__}: {exc}"}
    store: Any = None
    try:
        from realtime.catalog import store
    except ImportError:
        store = None
    if store is not None and hasattr(store, "resolve_models_dir"):
        models_dir = Path(store.resolve_models_dir())
    else:
        import platformdirs

        env = os.environ.get("REALTIME_MODELS_DIR", "").strip()
        models_dir = Path(env) if env else Path(platformdirs.user_cache_dir("realtime")) / "models"
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
    from realtime.inference.engines import EngineCache

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
    from realtime.jobs.container_checks import container_report

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


# ---------------------------------------------------------------------------------------------
# Diagnosis: the report -> problems, each with its fix
# ---------------------------------------------------------------------------------------------


def diagnose(report: Report, table: cudamod.DriverTable) -> list[Problem]:
    """Every problem the report shows, worst first; pure."""
    problems: list[Problem] = []
    system = (report.get("system") or {}).get("os") or platform.system()
    ort = report.get("onnxruntime") or {}
    gpu = report.get("gpu") or {}
    prov = report.get("providers") or {}
    backends = {b["name"]: b for b in prov.get("backends", [])}
    cuda_build = (report.get("cuda") or {}).get("onnxruntime_built_with") or table.gpu_extra_cuda
    need = table.requirement_text(cuda_build, system)

    for name in SECTIONS:
        section = report.get(name)
        if isinstance(section, dict) and section.get("probe_error"):
            problems.append(
                Problem(
                    "warning", f"could not check {name}: {section['probe_error']}", "report this as a bug"
                )
            )

    if prov and not prov.get("usable"):
        fix = (
            next((b["fix"] for b in backends.values() if b.get("fix")), None) or "pip install 'realtime[cpu]'"
        )
        problems.append(Problem("error", "no inference backend can run models here", fix))

    for m in (report.get("models") or {}).get("models", []):
        if m["bundled"] and m["status"] in ("missing", "corrupt"):
            problems.append(
                Problem(
                    "error",
                    f"bundled model {m['name']} is {m['status']} ({m['detail'] or m['path']})",
                    "reinstall realtime: pip install --force-reinstall realtime",
                )
            )
    models_error = (report.get("models") or {}).get("error")
    if models_error:
        problems.append(
            Problem("error", f"the model manifests cannot be read: {models_error}", "reinstall realtime")
        )

    if len(ort.get("distributions", [])) > 1:
        names = " ".join(ort["distributions"])
        problems.append(
            Problem(
                "warning",
                f"several ONNX Runtime builds are installed ({', '.join(ort['distributions'])}); "
                "they overwrite each other",
                f"pip uninstall -y {names} && pip install 'realtime[cpu]' (or [gpu] / [directml])",
            )
        )

    gpus = gpu.get("gpus") or []
    driver = gpu.get("driver")
    if gpus:
        names = ", ".join(g["name"] for g in gpus)
        if driver and table.driver_too_old(driver, cuda_build, system):
            problems.append(
                Problem(
                    "warning",
                    f"NVIDIA driver {driver} is too old for CUDA {cudamod.cuda_major(cuda_build)}.x; "
                    "GPU backends cannot start",
                    f"install {need}",
                )
            )
        gpu_backends = [
            n for n in ("tensorrt", "ort-tensorrt", "cuda") if backends.get(n, {}).get("available")
        ]
        if not gpu_backends and "CUDAExecutionProvider" not in ort.get("providers", []):
            problems.append(
                Problem(
                    "warning",
                    f"NVIDIA GPU found ({names}) but ONNX Runtime is the CPU build, so models run on the CPU",
                    f"pip uninstall -y onnxruntime && pip install 'realtime[gpu]' (needs {need})",
                )
            )
    elif system in ("Linux", "Windows"):
        why = gpu.get("why_none") or "no NVIDIA GPU found"
        problems.append(
            Problem(
                "info",
                f"CPU only: no NVIDIA GPU found ({why})",
                "with an NVIDIA card: pip uninstall -y onnxruntime && pip install 'realtime[gpu]', "
                f"and {need}",
            )
        )

    for b in backends.values():
        if not b["available"] and b.get("installed"):
            problems.append(
                Problem(
                    "warning",
                    f"provider {b['name']} is installed but cannot run: {b['reason']}",
                    b.get("fix") or "",
                )
            )

    trt = report.get("tensorrt") or {}
    if trt.get("installed") and trt.get("error"):
        problems.append(
            Problem(
                "warning",
                f"TensorRT is installed but does not load: {trt['error']}",
                "pip install --force-reinstall tensorrt",
            )
        )

    vcam = report.get("virtual_camera") or {}
    if vcam.get("kind") == "v4l2loopback":
        if not vcam.get("loaded"):
            problems.append(
                Problem(
                    "warning",
                    "v4l2loopback is not loaded: there is no virtual camera for Zoom, Meet or OBS",
                    V4L2LOOPBACK_FIX,
                )
            )
        elif not vcam.get("devices"):
            problems.append(
                Problem("warning", "v4l2loopback is loaded but created no devices", V4L2LOOPBACK_FIX)
            )
        elif not vcam.get("exclusive_caps"):
            problems.append(
                Problem(
                    "warning",
                    "v4l2loopback runs without exclusive_caps=1: Chrome, Zoom and Meet will not list "
                    "the virtual camera",
                    "sudo modprobe -r v4l2loopback && sudo modprobe v4l2loopback devices=1 "
                    "exclusive_caps=1 card_label=realtime",
                )
            )
    elif vcam.get("kind") == "obs" and not vcam.get("installed"):
        problems.append(
            Problem(
                "warning",
                "the OBS virtual camera is not installed: there is no virtual camera for other apps",
                "install OBS Studio (https://obsproject.com) and start its Virtual Camera once",
            )
        )

    cams = report.get("cameras") or {}
    if cams.get("available") and not [d for d in cams.get("devices", []) if not d.get("virtual")]:
        problems.append(
            Problem(
                "warning",
                "no capture device (webcam) found",
                "plug in a webcam, or use --demo or --input FILE",
            )
        )
    elif not cams.get("available") and cams.get("error"):
        problems.append(Problem("info", cams["error"], "update realtime"))

    downloadable = [m for m in (report.get("models") or {}).get("models", []) if not m["bundled"]]
    missing = [m for m in downloadable if m["status"] == "missing"]
    if len(missing) == 1:
        m = missing[0]
        problems.append(
            Problem(
                "info",
                f"model {m['name']} ({m['kind']}) is not downloaded",
                f"realtime models fetch {m['name']}",
            )
        )
    elif missing:
        names = ", ".join(m["name"] for m in missing)
        problems.append(
            Problem(
                "info",
                f"{len(missing)} optional models are not downloaded: {names}",
                "realtime models fetch NAME (for the features that need them)",
            )
        )
    for m in downloadable:
        if m["status"] == "corrupt":
            problems.append(
                Problem(
                    "warning",
                    f"model {m['name']} is corrupt ({m['detail']})",
                    f"delete {m['path']} and run `realtime models fetch {m['name']}`",
                )
            )
        elif m["status"] == "unverified":
            problems.append(
                Problem(
                    "info",
                    f"model {m['name']} has no published sha256 to verify it",
                    f"realtime models verify --trust-unverified {m['name']}",
                )
            )

    eng = report.get("engines") or {}
    installed_trt = trt.get("version")
    stale = [
        e
        for e in eng.get("entries", [])
        if installed_trt and e.get("trt_version") and e["trt_version"] != installed_trt
    ]
    if stale:
        mb = sum(e["size_mb"] for e in stale)
        problems.append(
            Problem(
                "info",
                f"{len(stale)} cached engine(s) were built by another TensorRT version "
                f"({mb:.0f} MB, never loaded)",
                "delete them from " + str(eng.get("dir")),
            )
        )
    for e in eng.get("entries", []):
        if e.get("problem"):
            problems.append(
                Problem(
                    "info",
                    f"engine {e['file']} is unusable ({e['problem']}); it will be rebuilt",
                    f"or delete it from {eng.get('dir')}",
                )
            )

    problems = _container_view(report, problems)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(problems, key=lambda p: order.get(p.severity, 3))


def _container_view(report: Report, problems: list[Problem]) -> list[Problem]:
    """Inside a container, add the container checks: each fix is a ``docker run`` flag."""
    cont = report.get("container") or {}
    if not cont.get("in_container"):
        return problems
    from realtime.jobs.container_checks import container_checks

    gpu = report.get("gpu") or {}
    checks = container_checks(driver=gpu.get("driver"))
    return problems + [Problem(c["severity"], c["problem"], c["fix"]) for c in checks]


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def collect(probes: Probes) -> Report:
    """Run every probe; one that crashes becomes a ``probe_error`` in its section."""
    report: Report = {"schema_version": SCHEMA_VERSION}
    try:
        from realtime import __version__

        report["realtime_version"] = str(__version__)
    except ImportError:
        report["realtime_version"] = "unknown"
    for name in SECTIONS:
        try:
            report[name] = _jsonable(getattr(probes, name)())
        except Exception as exc:
            log.debug("doctor probe %s failed", name, exc_info=True)
            report[name] = {"probe_error": f"{type(exc).__name__}: {exc}"}
    return report


def build_report(probes: Probes | None = None) -> Report:
    """Facts, problems and a summary: everything ``realtime doctor`` shows."""
    probes = probes or Probes()
    report = collect(probes)
    problems = diagnose(report, probes.driver_table())
    report["problems"] = [asdict(p) for p in problems]
    prov = report.get("providers") or {}
    usable = prov.get("usable") or []
    gpu_usable = [
        n for n in usable if n in ("tensorrt", "ort-tensorrt", "cuda", "directml", "coreml", "openvino")
    ]
    report["summary"] = {
        "ok": not any(p.severity == "error" for p in problems),
        "provider": usable[0] if usable else None,
        "cpu_only": bool(usable) and not gpu_usable,
        "errors": sum(p.severity == "error" for p in problems),
        "warnings": sum(p.severity == "warning" for p in problems),
    }
    return report


def exit_code(report: Report) -> int:
    """Non-zero when the main command could not run (an ``error`` problem)."""
    return 0 if report.get("summary", {}).get("ok") else 1


def _mb(value: Any) -> str:
    return f"{value / 1024:.1f} GB" if isinstance(value, (int, float)) else "?"


def render_text(report: Report) -> str:
    """The human-readable report: facts, then one line per problem with its fix."""
    lines = [f"realtime {report.get('realtime_version', '?')} doctor", ""]
    s = report.get("system") or {}
    lines.append(
        f"System      {s.get('os')} {s.get('os_release')} {s.get('machine', '')}, Python {s.get('python')}"
    )
    lines.append(
        f"CPU         {s.get('cpu')} ({s.get('cpu_usable')} of {s.get('cpu_count')} cores usable), "
        f"RAM {_mb(s.get('ram_mb'))}, "
        f"/dev/shm {_mb(s.get('shm_mb')) if s.get('shm_mb') is not None else 'n/a'}"
    )
    g = report.get("gpu") or {}
    if g.get("gpus"):
        for gpu in g["gpus"]:
            lines.append(
                f"GPU         {gpu['name']} (sm {gpu.get('compute_capability') or '?'}, "
                f"{_mb(gpu.get('memory_mb'))}), driver {g.get('driver')} via {g.get('source')}"
            )
    else:
        lines.append(f"GPU         no NVIDIA GPU ({g.get('why_none') or 'none found'})")
    c = report.get("cuda") or {}
    t = report.get("tensorrt") or {}
    lines.append(
        f"CUDA        driver API {g.get('cuda_driver_api') or '-'}, runtime {c.get('runtime') or '-'}, "
        f"cuDNN {c.get('cudnn') or '-'}, "
        f"onnxruntime built with {c.get('onnxruntime_built_with') or '- (CPU build)'}"
    )
    lines.append(
        "TensorRT    "
        + (
            f"{t.get('version')}" + (f" (does not load: {t['error']})" if t.get("error") else "")
            if t.get("installed")
            else "not installed"
        )
    )
    o = report.get("onnxruntime") or {}
    if o.get("installed"):
        lines.append(
            f"ONNX Rt.    {o.get('package')} {o.get('version')} ({o.get('device')}); providers: "
            f"{', '.join(o.get('providers', []))}; DirectML {'yes' if o.get('directml') else 'no'}"
        )
    else:
        lines.append(f"ONNX Rt.    not installed{': ' + o['error'] if o.get('error') else ''}")
    p = report.get("providers") or {}
    lines.append("Providers   (automatic order; first that starts wins)")
    for b in p.get("backends", []):
        mark = "yes" if b["available"] else "no "
        detail = (b["description"] or "available") if b["available"] else b["reason"]
        lines.append(f"  {mark} {b['name']:<13} {detail}")
    cams = report.get("cameras") or {}
    if cams.get("available"):
        devs = cams.get("devices", [])
        desc = ", ".join(f"{d.get('device')} {d.get('name', '')}".strip() for d in devs) or "none"
        lines.append(f"Cameras     {desc}")
    else:
        lines.append(f"Cameras     {cams.get('error') or 'unknown'}")
    v = report.get("virtual_camera") or {}
    if v.get("kind") == "v4l2loopback":
        state = "not loaded"
        if v.get("loaded"):
            devs = ", ".join(
                f"{d['device']} ({d['name']}{', exclusive_caps' if d.get('exclusive_caps') else ''})"
                for d in v.get("devices", [])
            )
            state = f"loaded: {devs or 'no devices'}"
        lines.append(f"Virtual cam v4l2loopback {state}")
    else:
        lines.append(f"Virtual cam {v.get('kind')}: {'installed' if v.get('installed') else 'not installed'}")
    m = report.get("models") or {}
    rows = m.get("models", [])
    bundled_ok = sum(1 for r in rows if r["bundled"] and r["status"] == "ok")
    bundled = sum(1 for r in rows if r["bundled"])
    down = [r for r in rows if not r["bundled"]]
    present = sum(1 for r in down if r["status"] in ("ok", "unverified"))
    lines.append(
        f"Models      bundled {bundled_ok}/{bundled} ok; downloaded {present}/{len(down)} in {m.get('dir')}"
    )
    e = report.get("engines") or {}
    lines.append(f"Engines     {len(e.get('entries', []))} in {e.get('dir')}")
    summary = report.get("summary") or {}
    lines.append("")
    lines.append(
        "Runs on     "
        + (" > ".join((report.get("providers") or {}).get("usable") or []) or "nothing")
        + (" (CPU only)" if summary.get("cpu_only") else "")
    )
    problems = report.get("problems") or []
    if problems:
        lines.append("")
        marks = {"error": "ERROR  ", "warning": "WARNING", "info": "note   "}
        for prob in problems:
            text = Problem(prob["severity"], prob["what"], prob["fix"]).line()
            lines.append(f"{marks.get(prob['severity'], prob['severity'])} {text}")
    lines.append("")
    lines.append(
        "OK: the main command can run."
        if summary.get("ok")
        else "NOT OK: the main command cannot run (see ERROR)."
    )
    return "\n".join(lines) + "\n"
