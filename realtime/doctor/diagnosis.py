"""``realtime doctor``'s diagnosis: a report of facts in, problems out, each one line with its
fix; and the summary and exit code built from them. Pure apart from the container checks,
which read ``/dev``, ``/sys`` and ``/proc`` only inside a container.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import asdict, dataclass

from realtime.doctor import container
from realtime.doctor.probes import SECTIONS, Probes, Report, collect
from realtime.inference import cuda as cudamod

log = logging.getLogger(__name__)

V4L2LOOPBACK_FIX = (
    "sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
    "exclusive_caps=1 card_label=realtime"
)


@dataclass(frozen=True)
class Problem:
    """One finding: ``error`` means the main command cannot run; ``warning`` degrades it;
    ``info`` explains a choice (e.g. why it runs on the CPU)."""

    severity: str
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.what} - fix: {self.fix}" if self.fix else self.what


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
            next((b["fix"] for b in backends.values() if b.get("fix")), None)
            or "pip install 'realtime-faceswap[cpu]'"
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
                f"pip uninstall -y {names} && pip install 'realtime-faceswap[cpu]' (or [gpu] / [directml])",
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
                    f"pip uninstall -y onnxruntime && pip install 'realtime-faceswap[gpu]' (needs {need})",
                )
            )
    elif system in ("Linux", "Windows"):
        why = gpu.get("why_none") or "no NVIDIA GPU found"
        problems.append(
            Problem(
                "info",
                f"CPU only: no NVIDIA GPU found ({why})",
                "with an NVIDIA card: pip uninstall -y onnxruntime && pip install 'realtime-faceswap[gpu]', "
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

    gpu = report.get("gpu") or {}
    checks = container.container_checks(driver=gpu.get("driver"))
    return problems + [Problem(c["severity"], c["problem"], c["fix"]) for c in checks]


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
