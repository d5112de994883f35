"""``realtime doctor``'s text output: the facts of a report, then one line per problem."""

from __future__ import annotations

from typing import Any

from realtime.doctor.diagnosis import Problem
from realtime.doctor.probes import Report


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
