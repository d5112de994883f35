"""``RemoteGuard``: keeps the stream going when the Triton server is slow or gone.

It wraps a processor whose models run remotely (the swapper, the enhancer). A call that
would blow the frame budget (``RemoteTimeout``) or that finds the server gone
(``RemoteLost``) does not stop the stream: the frame goes on unswapped, or through the
``fallback`` processor (the mesh swapper, when configured), and is counted. ``report`` (the
app's status dict) says ``remote: "remote lost"`` until a remote call succeeds again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from realtime.errors import RemoteError
from realtime.frame import Frame
from realtime.processor import Processor

log = logging.getLogger(__name__)

OK, LOST = "remote ok", "remote lost"


class RemoteGuard:
    def __init__(
        self, inner: Processor, *, fallback: Processor | None = None, report: dict[str, Any] | None = None
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.fallback = fallback
        self.report = report if report is not None else {}
        self._lock = threading.Lock()
        self.counts = {"remote_ok": 0, "remote_abandoned": 0, "remote_lost_frames": 0}
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
        try:
            out = self.inner(frame)
        except RemoteError as exc:
            from realtime.inference.triton import RemoteTimeout

            if isinstance(exc, RemoteTimeout):
                self._set(self.report.get("remote", OK), "remote_abandoned")
            else:
                self._set(LOST, "remote_lost_frames")
            log.debug("remote call failed: %s", exc)
            return self.fallback(frame) if self.fallback is not None else frame
        if frame.faces:
            self._set(OK, "remote_ok")
        return out


def guard(
    swapper: Processor, settings: Any, faces: list[Any], analyzer: Any, report: dict[str, Any]
) -> Processor:
    """The swapper guarded for ``--remote``, falling back to the mesh swapper when
    ``remote_fallback`` is ``mesh``."""
    fallback = None
    mode = getattr(settings, "remote_fallback", "pass")
    if mode not in ("pass", "mesh"):
        from realtime.errors import ConfigError

        raise ConfigError(f"remote_fallback must be pass or mesh, got {mode!r}")
    if mode == "mesh":
        from realtime.swap import swapper_factory

        fallback = swapper_factory("mesh")(faces, settings, analyzer)
    return RemoteGuard(swapper, fallback=fallback, report=report)
