"""Stage threads under supervision: a stage that crashes is restarted with backoff (and given
up after ``max_restarts``, which ends the run with ``StageError``); a watchdog reports a stage
stuck on one frame, and a stalled live camera is shown as lost rather than frozen."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from realtime.errors import RealtimeError, StageError
from realtime.pipeline.stats import Stats

if TYPE_CHECKING:  # for the type only: the pipeline module builds on this one
    from realtime.pipeline.pipeline import PipelineConfig

log = logging.getLogger(__name__)


class Supervised:
    """The pipeline's stage threads, their restarts and the watchdog (a part of ``Pipeline``)."""

    config: PipelineConfig
    stats: Stats
    live: bool
    lost_source: bool
    restarts: dict[str, int]
    _threads: list[threading.Thread]
    _busy_since: dict[str, float | None]
    _hung: set[str]
    _stop: threading.Event
    _fatal: BaseException | None
    stop: Callable[[], None]  # the pipeline's: ends every stage

    def _spawn(self, name: str, fn: Callable[[], None], supervised: bool = True) -> None:
        target = (lambda: self._supervise(name, fn)) if supervised else fn
        # No stage thread owns a file: each file sink has its own non-daemon thread
        # (``fanout``), which the pipeline waits for. Capture and processing may block in a
        # camera read or a hung model, so they must not keep the process alive.
        t = threading.Thread(target=target, name=f"realtime-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    def _thread(self, name: str) -> threading.Thread | None:
        for t in self._threads:
            if t.name == f"realtime-{name}":
                return t
        return None

    def _supervise(self, name: str, fn: Callable[[], None]) -> None:
        """Run a stage loop; if it dies unexpectedly, log it and restart it with backoff."""
        restarts = 0
        while True:
            try:
                fn()
                return
            except RealtimeError as exc:
                log.error("%s stopped: %s", name, exc)
                self._fatal = self._fatal or exc
                self.stop()
                return
            except BaseException as exc:  # even SystemExit: a stage thread may not end the run
                restarts += 1
                self.restarts[name] = restarts
                self.stats.error(f"stage:{name}")
                if self._stop.is_set():
                    return
                if restarts > self.config.max_restarts:
                    log.error(
                        "%s crashed %d times; stopping: %r",
                        name,
                        restarts,
                        exc,
                        exc_info=log.isEnabledFor(logging.DEBUG),
                    )
                    self._fatal = self._fatal or StageError(
                        f"the {name} stage crashed {restarts} times and was given up: {exc!r}",
                        fix="run with --log-level debug and report the traceback",
                    )
                    self.stop()
                    return
                log.error(
                    "%s crashed (%r); restarting it (%d/%d)",
                    name,
                    exc,
                    restarts,
                    self.config.max_restarts,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                self._busy_since[name] = None
                time.sleep(min(1.0, 0.05 * 2**restarts))

    def _watchdog_loop(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            for name, since in list(self._busy_since.items()):
                if since is not None and now - since > self.config.hang_timeout_s:
                    if name not in self._hung:
                        self._hung.add(name)
                        self.stats.error(f"hang:{name}")
                        log.error("%s has been stuck for %.1f s on one frame", name, now - since)
                        if name == "capture" and self.live:
                            self.lost_source = True  # a stalled camera: show it, don't freeze
                elif name in self._hung:
                    self._hung.discard(name)
                    log.warning("%s is moving again", name)
