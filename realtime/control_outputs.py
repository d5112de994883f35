"""The outputs a panel user adds and removes while the run goes on: a recording, a snapshot,
the virtual camera. Each is made from the run's own plan (``Run.plan.on_demand``), so it uses
the encoder and device settings the run was started with."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime.build import Run
from realtime.datadir import folder as _folder
from realtime.datadir import safe_name
from realtime.errors import ConfigError, InputError, RealtimeError, SinkError
from realtime.sinks.coverage import short_of, shortfall
from realtime.web import FrameHub

log = logging.getLogger(__name__)


def free_path(path: Path) -> Path:
    """``path``, or ``NAME-2.mp4``, ``NAME-3.mp4`` ... when it (or a run's lock or unfinished
    ``.partial`` beside it) is taken: a panel user cannot pass --force, and never needs to."""
    n, candidate = 1, path
    while any(candidate.with_name(candidate.name + tail).exists() for tail in ("", ".lock", ".partial")):
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class OnDemandOutputs:
    """The recording, snapshot and virtual camera commands of ``realtime.control.Controller``.
    ``lock`` is the controller's: commands run under it, and a failed recording found by
    ``recording_state`` is finalised under it too."""

    def __init__(self, run: Run, after: FrameHub, lock: threading.Lock) -> None:
        self._run = run
        self._after = after
        self._lock = lock
        self.recording: Any = None
        self.last_recording: dict[str, Any] | None = None
        self.vcam: Any = None
        self.vcam_state: dict[str, Any] = {"state": "off"}

    def close(self) -> None:
        """After the run: a recording still going is finalised and marked as kept at exit."""
        if self.recording is None:
            return
        try:
            self.record_stop({})
            if self.last_recording is not None:  # the CLI names it as kept at exit
                self.last_recording["stopped_by_exit"] = True
        except RealtimeError as exc:
            log.error("finishing the recording: %s", exc)

    def recording_state(self, status: dict[str, Any]) -> dict[str, Any] | None:
        """The recording going on: its path, encoder (and whether it changed to keep up) and
        the frames it queued and skipped."""
        if self.recording is None:
            return None
        path = str(self.recording.path)
        found = [r for r in status.get("recordings", ()) if r.get("path") == path]
        if found and found[0].get("failed"):  # the disk filled: say so now, not at record_stop
            with self._lock:
                if self.recording is not None and str(self.recording.path) == path:
                    try:
                        self.record_stop({})
                    except RealtimeError as exc:
                        log.error("finishing the failed recording: %s", exc)
            return None
        return {**(found[0] if found else {}), "path": path, "state": "recording"}

    def record_start(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.recording is not None:
            raise ConfigError(f"already recording to {self.recording.path}", fix="stop it first")
        name = args.get("name") or time.strftime("realtime-%Y%m%d-%H%M%S")
        path = free_path(_folder("recordings") / safe_name(str(name), ".mp4"))
        # The run's own encoder settings (--codec, --crf, --preset ...), never overwriting.
        spec = replace(self._run.plan.on_demand.record, path=str(path), overwrite=False)
        self.recording = self._run.add_output(spec)  # cannot open: raised, the run goes on
        return {"path": str(path)}

    def record_stop(self, args: dict[str, Any]) -> dict[str, Any]:
        sink, self.recording = self.recording, None
        if sink is None:
            raise ConfigError("not recording")
        report = self._run.pipeline.remove_output(sink)  # returns once the file is finalised
        saved_to = getattr(sink, "saved_to", None)
        frames = (sink.frames_saved or 0) if saved_to else 0
        error = None if report.error is None else str(report.error)
        if report.skipped and error is None:
            error = f"{report.skipped} frames skipped: the encoder could not keep up even with {sink.encoder}"
        captured = sink.frames_captured or 0
        if error is None and saved_to and short_of(frames, captured):  # README, Exit codes
            error = shortfall(frames, captured)
        self.last_recording = {
            "path": str(saved_to) if saved_to else None,  # None: nothing could be saved
            "saved": saved_to is not None,
            "frames": frames,
            "skipped": report.skipped,
            "captured": captured,
            "error": error,
            "state": "failed" if report.error is not None else "saved" if saved_to else "nothing saved",
        }
        return dict(self.last_recording)

    def snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        image = self._after.latest()
        if image is None:
            raise InputError("no frame yet", fix="wait for the preview to start")
        path = _folder("snapshots") / time.strftime("snapshot-%Y%m%d-%H%M%S.jpg")
        if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
            raise SinkError(f"cannot write {path}")
        return {"path": str(path)}

    def vcam_on(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.vcam is not None:
            return {"vcam": self.vcam_state}
        try:  # the run's own --vcam-device and --vcam-backend
            sink = self._run.add_output(self._run.plan.on_demand.vcam)
        except RealtimeError as exc:
            self.vcam_state = {"state": "missing", "error": exc.message, "fix": exc.fix}
            raise
        self.vcam = sink
        self.vcam_state = {"state": "on", "device": sink.device_name}  # what was really opened
        return {"vcam": self.vcam_state}

    def vcam_off(self, args: dict[str, Any]) -> dict[str, Any]:
        sink, self.vcam = self.vcam, None
        if sink is not None:
            self._run.pipeline.remove_output(sink)
        self.vcam_state = {"state": "off"}
        return {"vcam": self.vcam_state}
