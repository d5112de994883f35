"""Which source face each person gets when ``--face`` is given several times (the "cast").

The rule, in order (sources are numbered in the order of the ``--face`` options, from 0):

1. A track keeps the source it was given for as long as it lives, wherever it moves, crossing
   another person included.
2. At the start (the first ``settle`` frames after the first face, 15 by default: the
   tracker's first search round), everyone in view is numbered left to right by the centre
   of their box: the leftmost person gets the first photo, the next one the second, and so
   on. Later, people who appear in the same frame are taken left to right, each taking the
   lowest-numbered source no visible person holds.
3. A person whose track ends is remembered with their source and last position. A newcomer
   takes a free source held by someone who left, the one whose last position is nearest,
   so a person who leaves and comes back gets their own face again whenever the others
   are still in view (the tracker gives them a new track id: it cannot tell who they are).
4. With more people than photos, the sources repeat in order (the person who finds none free
   gets source ``k mod n``, ``k`` counting such people).
5. Faces without a track (``track_id`` -1, a still photo) are numbered left to right in their
   frame, so a group photo maps like the start of a stream.
6. ``assign(track_id, source)`` reassigns by hand (a hotkey or the panel); it holds like rule 1.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from realtime.errors import ConfigError
from realtime.frame import Face


@dataclass
class _Held:
    source: int
    x: float  # last centre seen
    y: float
    last_frame: int


class Cast:
    """Maps track ids to source numbers by the module's rule; thread-safe."""

    def __init__(self, sources: int, settle: int = 15) -> None:
        if sources < 1:
            raise ConfigError("a cast needs at least one source face", fix="pass --face PHOTO")
        self.sources = int(sources)
        self._held: dict[int, _Held] = {}  # visible (or recently visible) tracks
        self._gone: dict[int, _Held] = {}  # tracks that ended, by their old id
        self._extra = 0  # people who found no free source (rule 4)
        self.settle = int(settle)
        self._first: int | None = None  # frame of the first face (rule 2)
        self._manual: set[int] = set()  # tracks assigned by hand
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._held.clear()
            self._gone.clear()
            self._extra = 0
            self._first = None
            self._manual.clear()

    def assign(self, track_id: int, source: int) -> None:
        """Give ``track_id`` source ``source`` from now on (rule 6)."""
        if not 0 <= source < self.sources:
            raise ConfigError(
                f"source {source} does not exist", fix=f"choose 0 to {self.sources - 1} (the --face order)"
            )
        with self._lock:
            self._manual.add(track_id)
            held = self._held.get(track_id)
            if held is None:
                self._held[track_id] = _Held(source, 0.0, 0.0, -1)
            else:
                held.source = source

    def source_of(self, track_id: int) -> int | None:
        with self._lock:
            held = self._held.get(track_id)
            return None if held is None else held.source

    def sources_for(self, faces: Sequence[Face], frame_index: int) -> list[int]:
        """The source number of each face of one frame (in the order given)."""
        if self.sources == 1:
            return [0] * len(faces)
        order = sorted(range(len(faces)), key=lambda i: faces[i].center[0])
        out = [0] * len(faces)
        untracked = [i for i in order if faces[i].track_id < 0]
        for rank, i in enumerate(untracked):  # rule 5
            out[i] = rank % self.sources
        tracked = [i for i in order if faces[i].track_id >= 0]
        with self._lock:
            self._retire({faces[i].track_id for i in tracked}, frame_index)
            if tracked and self._first is None:
                self._first = frame_index
            if self._first is not None and frame_index - self._first < self.settle:
                rank = 0
                for i in tracked:  # rule 2, at the start: left to right
                    tid = faces[i].track_id
                    if tid in self._manual:
                        continue
                    self._held[tid] = _Held(rank % self.sources, 0.0, 0.0, frame_index)
                    rank += 1
            for i in tracked:
                face = faces[i]
                held = self._held.get(face.track_id)
                if held is None:
                    held = self._held[face.track_id] = _Held(self._pick(face), 0.0, 0.0, frame_index)
                held.x, held.y = face.center
                held.last_frame = max(held.last_frame, frame_index)
                out[i] = held.source
        return out

    def _retire(self, visible: set[int], frame_index: int) -> None:
        """Tracks not in this frame have ended (the tracker never brings an id back)."""
        if not visible and not self._held:
            return
        for tid in [t for t in self._held if t not in visible]:
            held = self._held[tid]
            if held.last_frame > frame_index:  # a frame from a slower worker, out of order
                continue
            self._gone[tid] = self._held.pop(tid)
        if len(self._gone) > 4 * self.sources:  # remember the latest few only
            for tid in sorted(self._gone, key=lambda t: self._gone[t].last_frame)[: -4 * self.sources]:
                del self._gone[tid]

    def _pick(self, face: Face) -> int:
        taken = {h.source for h in self._held.values()}
        free = [k for k in range(self.sources) if k not in taken]
        if not free:  # rule 4
            k = self._extra % self.sources
            self._extra += 1
            return k
        cx, cy = face.center
        returning = [(tid, g) for tid, g in self._gone.items() if g.source in free]
        if returning:  # rule 3
            tid, g = min(returning, key=lambda item: (item[1].x - cx) ** 2 + (item[1].y - cy) ** 2)
            del self._gone[tid]
            return g.source
        return free[0]  # rule 2
