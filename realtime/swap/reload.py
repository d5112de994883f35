"""Changing the source face while the stream runs: a hotkey in the preview, or a file watch.

The new photo is analysed off the processing thread and handed to the swapper in one call;
a photo that fails (no face, half-written file) is logged and the current face stays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from realtime.errors import RealtimeError
from realtime.swap.neural.factory import largest_face

log = logging.getLogger(__name__)


class FaceReloader:
    """Reloads ``paths`` into ``swapper`` on demand, and when a file changes on disk."""

    def __init__(
        self,
        paths: Sequence[Path],
        swapper: Any,
        analyzer: Any,
        face_index: int | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.swapper = swapper
        self.analyzer = analyzer
        self.face_index = face_index
        self.poll_s = poll_s
        self.reloads = 0
        self._stamp = self._stamps()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _stamps(self) -> tuple[tuple[float, int], ...]:
        out = []
        for p in self.paths:
            try:
                st = p.stat()
                out.append((st.st_mtime, st.st_size))
            except OSError:
                out.append((0.0, -1))
        return tuple(out)

    def reload(self) -> bool:
        """Read the photos again and switch the swapper to them. False (old face kept) on error."""
        with self._lock:
            try:
                if hasattr(self.swapper, "set_sources"):  # one face per person
                    # The mesh kernels (numba) load only when the mesh swapper is in use (start-up cost).
                    from realtime.swap.mesh.variants import prepare_cast

                    self.swapper.set_sources(
                        prepare_cast(self.paths, self.face_index, analyzer=self.analyzer)
                    )
                elif hasattr(self.swapper, "set_source"):
                    # The mesh kernels (numba) load only when the mesh swapper is in use (start-up cost).
                    from realtime.swap.mesh.photo import prepare_source

                    self.swapper.set_source(
                        prepare_source(self.paths, self.face_index, analyzer=self.analyzer)
                    )
                else:
                    image, face = largest_face(self.paths, self.analyzer, self.face_index)
                    self.swapper.set_source_face(image, face.kps)
            except (RealtimeError, OSError) as exc:
                log.error("keeping the current face: %s", exc)
                return False
            self.reloads += 1
            log.info("source face reloaded from %s", ", ".join(map(str, self.paths)))
            return True

    def reload_async(self) -> None:
        """For hotkeys: reload without holding up the caller (the output thread)."""
        threading.Thread(target=self.reload, name="realtime-face-reload", daemon=True).start()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="realtime-face-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            stamp = self._stamps()
            if stamp != self._stamp:
                self._stamp = stamp
                self.reload()
