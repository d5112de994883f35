"""Progress while a TensorRT engine builds (minutes on a first run): a ticker that reports the
elapsed time to a ``BuildCallback``, and the CLI's rich spinner that shows it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from realtime.inference.session import BuildCallback, BuildEvent

log = logging.getLogger(__name__)


class BuildTicker:
    """Calls ``callback`` with the elapsed time every ``interval_s`` while a build runs."""

    def __init__(self, callback: BuildCallback | None, label: str, interval_s: float = 0.5) -> None:
        self._cb = callback
        self._label = label
        self._interval = interval_s
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread: threading.Thread | None = None

    def emit(self, phase: str, detail: str = "") -> None:
        if self._cb is None:
            return
        try:
            self._cb(BuildEvent(phase, self._label, time.monotonic() - self._start, detail))
        except Exception as exc:  # a broken progress display must not break the build
            log.debug("build progress callback failed: %s", exc)

    def __enter__(self) -> BuildTicker:
        self._start = time.monotonic()
        self.emit("building")
        if self._cb is not None:
            self._thread = threading.Thread(target=self._run, name="engine-build-progress", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.emit("building")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.emit("failed" if exc_type else "done", str(exc) if exc else "")


def rich_build_status(console: Any) -> BuildCallback:
    """A ``BuildCallback`` that shows a rich spinner with the elapsed time.

    For the CLI to pass in ``SessionOptions(on_build=...)``; the library never creates one.
    """
    state: dict[str, Any] = {}

    def callback(event: BuildEvent) -> None:
        verb = "waiting for another process to build" if event.phase == "waiting" else "building"
        text = f"{verb} the TensorRT engine for {event.label} ({event.elapsed_s:.0f} s; first run only)"
        if event.phase in ("building", "waiting"):
            if "status" not in state:
                state["status"] = console.status(text)
                state["status"].start()
            else:
                state["status"].update(text)
        elif "status" in state:
            state.pop("status").stop()

    return callback
