"""The one control surface of a running pipeline: state, settings, commands, a stats history.

The browser panel, the preview window's hotkeys and the CLI all go through ``Controller.run``
with a command name and JSON arguments; nothing else touches the pipeline while it runs.

Commands (``run(name, args)`` returns a JSON-able dict, or raises ``RealtimeError``):

- ``pause`` / ``resume`` / ``toggle_processing``: the swap stops (outputs freeze on the last
  swapped frame, unless ``on_miss`` is ``pass``: then frames pass through) or goes on.
- ``stop``: end the run (every output is finalised).
- ``set_swap`` ``{field: value, ...}``: mesh swapper settings, from the next frame on.
- ``set_faces`` ``{field: value, ...}``: face tracking settings (the live ones).
- ``select`` ``{"track_id": N}`` or ``{"x": px, "y": px}`` or ``{"mode": "all"|"largest"}``.
- ``face`` ``{"name": NAME}``: swap in an uploaded photo (``upload_face`` stores one);
  ``reload_face``: read the current photo(s) again.
- ``landmarks`` ``{"on": bool}``: boxes, ids and landmarks on the panel's preview.
- ``record_start`` ``{"name": optional}`` / ``record_stop``: a recording in the data folder,
  finalised (playable) when ``record_stop`` returns.
- ``snapshot``: the current output frame saved as a JPEG in the data folder.
- ``vcam_on`` / ``vcam_off``: the virtual camera output.
- ``preset_save`` / ``preset_load`` ``{"name": NAME}``: a TOML preset in the ``configs/`` format.
- ``enhance_every`` ``{"n": N}``: run the face enhancer on 1 frame in N.
- ``on_miss`` ``{"policy": "hold"|"blur"|"pass"}``: what goes out when a face is not swapped.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, cast

from realtime.build import Run
from realtime.control_outputs import OnDemandOutputs
from realtime.datadir import folder as _folder
from realtime.datadir import safe_name
from realtime.errors import ConfigError, InputError, RealtimeError
from realtime.faces.config import RESTART_ONLY, AnalysisSettings
from realtime.frame import Frame
from realtime.library import face_path, store_upload
from realtime.options import check, find, from_table
from realtime.plan import PanelPreview
from realtime.presets import find_preset, write_preset
from realtime.settings import Settings, load_preset
from realtime.sinks.preview import PreviewSink
from realtime.sinks.registry import make_sink
from realtime.swap.config import MeshSettings
from realtime.web import FrameHub

log = logging.getLogger(__name__)


def _finite(v: Any) -> Any:
    """JSON has no NaN: a figure not measured yet is null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


class Controller:
    """Commands and state over one built run (``realtime.build.Run``)."""

    def __init__(self, run: Run, history_s: int = 60) -> None:
        self._run = run
        self.pipeline = run.pipeline
        self.analyzer = run.chain.analyzer
        self.swapper: Any = run.chain.swapper
        self.enhancer: Any = run.chain.enhancer
        self.reloader = run.chain.reloader
        self.before = FrameHub()
        self.preview = cast(PreviewSink, make_sink(PanelPreview()))
        self.after = self.preview.hub
        self.view = "after"
        self.face_name: str | None = None
        self.photo_checks: list[dict[str, Any]] | None = None  # of a face the panel swapped in
        self.history: deque[dict[str, Any]] = deque(maxlen=history_s)
        self._lock = threading.Lock()
        self.outputs = OnDemandOutputs(run, self.after, self._lock)
        self._sampler: threading.Thread | None = None
        self._commands: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "pause": lambda a: self._processing(False),
            "resume": lambda a: self._processing(True),
            "toggle_processing": lambda a: self._processing(not self.pipeline.processing),
            "stop": self._stop,
            "set_swap": self._set_swap,
            "set_faces": self._set_faces,
            "select": self._select,
            "face": self._use_face,
            "reload_face": self._reload_face,
            "landmarks": self._landmarks,
            "view": self._view,
            "record_start": self.outputs.record_start,
            "record_stop": self.outputs.record_stop,
            "snapshot": self.outputs.snapshot,
            "vcam_on": self.outputs.vcam_on,
            "vcam_off": self.outputs.vcam_off,
            "preset_save": self._preset_save,
            "preset_load": self._preset_load,
            "enhance_every": self._enhance_every,
            "on_miss": self._on_miss,
        }

    @property
    def last_recording(self) -> dict[str, Any] | None:
        """The recording the panel stopped last (the CLI names one stopped by the exit)."""
        return self.outputs.last_recording

    @property
    def commands(self) -> list[str]:
        return sorted(self._commands)

    def attach(self) -> None:
        """Join the run (before it starts): the preview output, the "before" tap, and the
        hotkeys' command handler."""
        self.pipeline.add_output(self.preview)  # made by the registry in __init__
        self.pipeline.on_capture = self._tap
        self.pipeline.command_handler = lambda name: self.run(name)
        self._sampler = threading.Thread(target=self._sample, name="realtime-control-stats", daemon=True)
        self._sampler.start()

    def close(self) -> None:
        """After the run: stop a recording still going (finalised), close the previews."""
        self.outputs.close()
        self.after.close()
        self.before.close()

    # -- the surface --------------------------------------------------------------------------
    def run(self, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run command ``name``; ``ConfigError`` for an unknown one or bad arguments."""
        fn = self._commands.get(name)
        if fn is None:
            raise ConfigError(f"unknown command {name!r}", fix=f"use one of {', '.join(self.commands)}")
        with self._lock:
            out = fn(dict(args or {}))
        log.info("command %s %s", name, args or "")
        return {"ok": True, "command": name, **out}

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.swapper is not None and isinstance(getattr(self.swapper, "settings", None), MeshSettings):
            out["swap"] = asdict(self.swapper.settings)
        if self.analyzer is not None:
            out["faces"] = asdict(self.analyzer.settings)
        return out

    def state(self) -> dict[str, Any]:
        s = self.pipeline.status()
        lat = s.get("latency_ms", {})
        ages = sorted(self.after.ages_ms)
        return _finite(
            {
                "processing": self.pipeline.processing,
                "source_lost": bool(self.pipeline.lost_source),
                "stopped": self.pipeline.stopped,
                "provider": s.get("provider", "cpu"),
                "swapper": s.get("swapper", "none"),
                "fps_in": s.get("fps_in", 0.0),
                "fps_out": s.get("fps_out", 0.0),
                "latency_p50_ms": lat.get("p50"),
                "latency_p95_ms": lat.get("p95"),
                "preview_latency_ms": round(ages[len(ages) // 2], 1) if ages else None,
                "dropped": s.get("dropped", 0),
                "captured": s.get("captured", 0),
                "stages_ms": {k: v.get("p50") for k, v in s.get("stages_ms", {}).items()},
                "view": self.view,
                "landmarks": self.preview.landmarks,
                "faces": self.preview.faces,
                "face": self.face_name,
                # The start-up photos' checks until the panel swaps in another face.
                "photo_checks": s.get("photo_checks", []) if self.photo_checks is None else self.photo_checks,
                "recording": self.outputs.recording_state(s),
                "last_recording": self.outputs.last_recording,
                "vcam": self.outputs.vcam_state,
                "on_miss": s.get("on_miss"),  # frames held, blurred, frozen (realtime.pipeline.guard)
                "enhance_every": None if self.enhancer is None else self.enhancer.n,
                "settings": self.settings(),
            }
        )

    # -- stats history --------------------------------------------------------------------------
    def _sample(self) -> None:
        while not self.pipeline.stopped:
            st = self.state()
            self.history.append(
                {
                    "t": round(time.time(), 2),
                    **{
                        k: st[k] for k in ("fps_in", "fps_out", "latency_p50_ms", "latency_p95_ms", "dropped")
                    },
                    "stages_ms": st["stages_ms"],
                }
            )
            time.sleep(1.0)

    def _tap(self, frame: Frame) -> None:
        if self.view == "before":  # only then: a copy per captured frame
            self.before.publish(frame.image, frame.captured_at)

    # -- commands -------------------------------------------------------------------------------
    def _processing(self, on: bool) -> dict[str, Any]:
        if self.pipeline.processing != on:
            self.pipeline.toggle_processing()
        return {"processing": self.pipeline.processing}

    def _stop(self, args: dict[str, Any]) -> dict[str, Any]:
        self.pipeline.stop()
        return {}

    def _mesh(self) -> Any:
        if self.swapper is None or not hasattr(self.swapper, "set_settings"):
            raise ConfigError("the swapper in use has no live settings", fix="run with --swapper mesh")
        return self.swapper

    def _set_swap(self, args: dict[str, Any]) -> dict[str, Any]:
        swapper = self._mesh()
        current = asdict(swapper.settings)
        new = from_table(MeshSettings, {**current, **args}, "panel", "swap")  # checked: a bad value raises
        swapper.set_settings(new)
        return {"swap": asdict(new)}

    def _set_faces(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.analyzer is None:
            raise ConfigError("no face analysis runs", fix="give --face PHOTO")
        merged = {**asdict(self.analyzer.settings), **args}
        new = from_table(AnalysisSettings, merged, "panel", "faces")
        self.analyzer.set_settings(new)
        return {"faces": asdict(new)}

    def _select(self, args: dict[str, Any]) -> dict[str, Any]:
        if "x" in args and "y" in args:
            x, y = float(args["x"]), float(args["y"])
            hits = [
                f
                for f in self.preview.faces
                if f["box"][0] <= x <= f["box"][2] and f["box"][1] <= y <= f["box"][3]
            ]
            if not hits:
                raise InputError(f"no face at ({x:.0f}, {y:.0f})", fix="click inside a face's box")
            args = {"track_id": hits[0]["track_id"]}
        if "track_id" in args:
            return self._set_swap({"select": "track", "track_id": int(args["track_id"])})
        return self._set_swap({"select": str(args.get("mode", "all")), "track_id": None})

    def upload_face(self, data: bytes, max_bytes: int) -> dict[str, Any]:
        """Store an uploaded photo under the data folder (decoded with the pixel limit of every
        image path first) and swap it in."""
        faces = _folder("faces")
        name, new = store_upload(faces, data, max_bytes)
        try:
            return self.run("face", {"name": name})
        except RealtimeError:
            if new:  # refused (no usable face): not offered again among the faces
                (faces / name).unlink(missing_ok=True)
            raise

    def _use_face(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.reloader is None:
            raise ConfigError("nothing is swapped in this run", fix="give --face PHOTO")
        path = face_path(_folder("faces"), str(args.get("name", "")))  # uploaded or bundled
        old = self.reloader.paths
        self.reloader.paths = [path]
        if not self.reloader.reload():
            self.reloader.paths = old
            raise InputError(
                f"no usable face in {path.name}; the current face stays", fix="try another photo"
            )
        self.face_name = path.name
        self.photo_checks = self._check_photo(path)
        return {"face": path.name, "photo_checks": self.photo_checks}

    def _check_photo(self, path: Path) -> list[dict[str, Any]]:
        """How the photo just swapped in will hold up (``realtime face check``), for the panel
        and the log; a check that fails is logged, never raised: the face is already in use."""
        from realtime.swap.photo_check import log_report, photo_report

        try:
            report = photo_report(path, self.analyzer)
        except RealtimeError as exc:
            log.debug("photo %s not checked: %s", path, exc)
            return []
        log_report(report)
        return [report.to_dict()]

    def _reload_face(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.reloader is not None:
            self.reloader.reload_async()
        return {}

    def _landmarks(self, args: dict[str, Any]) -> dict[str, Any]:
        self.preview.landmarks = bool(args.get("on", not self.preview.landmarks))
        return {"landmarks": self.preview.landmarks}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view", "after")
        if view not in ("before", "after"):
            raise ConfigError(f"view must be before or after, got {view!r}")
        self.view = view
        return {"view": view}

    def _on_miss(self, args: dict[str, Any]) -> dict[str, Any]:
        from realtime.pipeline.guard import set_policy

        if self.swapper is None:
            raise ConfigError("nothing is swapped in this run", fix="give --face PHOTO")
        policy = check(find(Settings, "on_miss"), args.get("policy"))  # the option's own choices
        return {"on_miss": set_policy(self.pipeline, policy, self._run.info)}

    def _enhance_every(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.enhancer is None:
            raise ConfigError("no face enhancer runs", fix="start with --enhance MODEL")
        n = check(find(Settings, "enhance_every"), args.get("n"))  # the option's own range
        self.enhancer.set_every(n)
        return {"enhance_every": n}

    def _preset_save(self, args: dict[str, Any]) -> dict[str, Any]:
        path = _folder("presets") / safe_name(str(args.get("name", "")), ".toml")
        plan = self._run.plan
        face = None if self.reloader is None else [str(p) for p in self.reloader.paths]
        on_miss = (self._run.info.get("on_miss") or {}).get("policy")
        write_preset(
            path, self.settings(), plan.source, self._run.info.get("swapper"), face=face, on_miss=on_miss
        )
        return {"path": str(path)}

    def _preset_load(self, args: dict[str, Any]) -> dict[str, Any]:
        path = find_preset(_folder("presets"), str(args.get("name", "")))
        preset = load_preset(path)
        applied: dict[str, Any] = {}
        if self.swapper is not None and hasattr(self.swapper, "set_settings"):
            self.swapper.set_settings(preset.swap)
            applied["swap"] = asdict(preset.swap)
        if self.analyzer is not None:
            live = {k: v for k, v in asdict(preset.faces).items() if k not in RESTART_ONLY}
            new = replace(self.analyzer.settings, **live)
            self.analyzer.set_settings(new)
            applied["faces"] = asdict(new)
        if preset.on_miss is not None and self.swapper is not None:
            applied["on_miss"] = self._on_miss({"policy": preset.on_miss})["on_miss"]
        if preset.face and self.reloader is not None:  # the preset keeps its face photo
            from realtime.presets import apply_face

            applied["face"] = self.face_name = apply_face(self.reloader, preset.face)
            self.photo_checks = [c for p in self.reloader.paths for c in self._check_photo(Path(p))]
        return {"path": str(path), "applied": applied}
