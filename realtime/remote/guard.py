"""``RemoteGuard``: keeps the stream going when the Triton server is slow or gone.

It wraps a processor whose models run remotely (the swapper, the enhancer). A call that
would blow the frame budget (``RemoteTimeout``) or that finds the server gone
(``RemoteLost``) does not stop the stream: the frame goes on unswapped, or through the
``fallback`` processor (the mesh swapper, when configured), and is counted; a file job first
waits for the server (``patience_s``). ``report`` (the
app's status dict) says ``remote: "remote lost"`` until a remote call succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

from realtime.errors import RemoteError
from realtime.frame import SWAP_MISSED, Frame
from realtime.inference.models import ModelAccess
from realtime.inference.triton import RETRY_S, RemoteTimeout
from realtime.processor import Processor, is_thread_safe
from realtime.swap import swapper_factory
from realtime.swap.config import SwapConfig

log = logging.getLogger(__name__)

OK, LOST = "remote ok", "remote lost"
FILE_PATIENCE_S = 60.0  # how long a file job waits for a lost server before a frame goes on


class RemoteGuard:
    """``patience_s`` > 0 (a file job, where nothing may be lost and no frame is late): a
    failed call is retried until the server answers or ``patience_s`` has passed, and only
    then does the frame go on without the remote model."""

    def __init__(
        self,
        inner: Processor,
        *,
        fallback: Processor | None = None,
        report: dict[str, Any] | None = None,
        patience_s: float = 0.0,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        # Its own state is under a lock: as safe for several workers as what it guards.
        self.thread_safe = is_thread_safe(inner) and (fallback is None or is_thread_safe(fallback))
        self.fallback = fallback
        self.report = report if report is not None else {}
        self.patience_s = patience_s
        self._lock = threading.Lock()
        self.counts = {"remote_ok": 0, "remote_abandoned": 0, "remote_lost_frames": 0, "remote_waited_s": 0.0}
        self._set(OK)

    def __getattr__(self, item: str) -> Any:  # set_source_face, provider, ... of the swapper
        return getattr(self.__dict__["inner"], item)

    def _set(self, state: str, key: str | None = None) -> None:
        with self._lock:
            if key:
                self.counts[key] += 1
            self.report["remote"] = state
            self.report.update(self.counts)

    def __call__(self, frame: Frame) -> Frame:
        deadline = time.monotonic() + self.patience_s
        while True:
            try:
                out = self.inner(frame)
                break
            except RemoteError as exc:
                log.debug("remote call failed: %s", exc)
                if time.monotonic() < deadline:  # a file job: wait for the server
                    self._set(LOST)
                    time.sleep(RETRY_S / 2)
                    with self._lock:
                        self.counts["remote_waited_s"] = round(
                            self.counts["remote_waited_s"] + RETRY_S / 2, 1
                        )
                    continue
                if isinstance(exc, RemoteTimeout):
                    self._set(self.report.get("remote", OK), "remote_abandoned")
                else:
                    self._set(LOST, "remote_lost_frames")
                if self.fallback is not None:
                    return self.fallback(frame)
                return frame.with_flag(SWAP_MISSED) if frame.faces else frame
        if frame.faces:
            self._set(OK, "remote_ok")
        return out


def guard(swapper: Processor, config: SwapConfig, analyzer: Any, report: dict[str, Any]) -> Processor:
    """The swapper guarded for ``--remote``, falling back to the mesh swapper when the
    model access says ``remote_fallback = "mesh"``."""
    fallback = None
    if config.models.remote_fallback == "mesh":
        fallback = swapper_factory("mesh")(replace(config, swapper="mesh"), analyzer)
    return RemoteGuard(swapper, fallback=fallback, report=report, patience_s=config.models.remote_patience_s)


def guard_enhancer(enhancer: Processor, models: ModelAccess, report: dict[str, Any]) -> Processor:
    """The enhancer guarded for ``--remote``: a lost server leaves faces unenhanced."""
    return RemoteGuard(enhancer, report=report, patience_s=models.remote_patience_s)
