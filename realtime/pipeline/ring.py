"""Ring buffers that join the pipeline's threads.

A ring has a fixed number of slots, allocated once. Each slot is in exactly one state at a
time: FREE, WRITING (owned by one producer), PUBLISHED (waiting for a reader) or READING
(owned by one reader through a ``Lease``). Ownership moves; slots are never shared, so a
reader can never see a frame that is being overwritten.

Two policies:
- ``LATEST`` (live sources): the newest frame wins. Publishing releases every older unread
  frame as a drop, and a frame older than one already waiting is dropped on arrival. Every
  drop is counted, so ``published == consumed + dropped + waiting``.
- ``BLOCK`` (files): a producer waits for a free slot and nothing is dropped. With
  ``ordered=True`` readers receive frames strictly by ``Frame.index`` (the reorder step
  behind several workers).
"""

from __future__ import annotations

import threading
import time
from enum import Enum

import numpy as np

from realtime.frame import Frame

FREE, WRITING, PUBLISHED, READING = range(4)


class Policy(str, Enum):
    LATEST = "latest"
    BLOCK = "block"


class RingClosed(Exception):
    """Raised to a producer that tries to write after ``close()``."""


class WriteSlot:
    """A slot owned by one producer until it is published or abandoned."""

    __slots__ = ("_ring", "index")

    def __init__(self, ring: Ring, index: int) -> None:
        self._ring = ring
        self.index = index

    def buffer(self, shape: tuple[int, int, int]) -> np.ndarray:
        """The slot's preallocated image buffer, reallocated only when the shape changes."""
        return self._ring._buffer(self.index, shape)


class Lease:
    """A published frame owned by one reader until ``release()`` (or the end of a ``with``)."""

    __slots__ = ("_released", "_ring", "frame", "index")

    def __init__(self, ring: Ring, index: int, frame: Frame) -> None:
        self._ring = ring
        self.index = index
        self.frame = frame
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._ring._release(self.index)

    def transfer(self) -> Lease:
        """Hand this lease on (to a slot of the next ring, which releases it when that slot
        is freed): the frame moves on without a copy, and leaving a ``with`` no longer
        releases it here."""
        self._released = True
        return Lease(self._ring, self.index, self.frame)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _release_all(leases: list[Lease]) -> None:
    for lease in leases:
        lease.release()


class Ring:
    """A fixed set of slots handed between threads by ownership."""

    def __init__(self, capacity: int, policy: Policy, *, ordered: bool = False, name: str = "ring") -> None:
        if capacity < 2:
            raise ValueError("a ring needs at least 2 slots")
        self.name = name
        self.capacity = capacity
        self.policy = policy
        self.ordered = ordered
        self._state = [FREE] * capacity
        self._frames: list[Frame | None] = [None] * capacity
        self._buffers: list[np.ndarray | None] = [None] * capacity
        self._seq = [0] * capacity  # publish order, to find oldest/newest
        # A slot may hold the upstream lease of the frame it carries (moved on without a copy);
        # the lease is released when the slot is freed.
        self._holds: list[Lease | None] = [None] * capacity
        self._counter = 0
        self._next_index = 0  # for ordered rings
        self._cond = threading.Condition()
        self._closed = False
        self.published = 0
        self.consumed = 0
        self.dropped = 0

    # -- producer side -------------------------------------------------------------------
    def acquire(self, timeout: float | None = None, index: int | None = None) -> WriteSlot | None:
        """A slot to fill. LATEST takes a free slot, or the oldest unread one (a drop);
        BLOCK waits for a free slot. ``None`` on timeout; ``RingClosed`` after close.

        An ordered ring keeps its last free slot for the frame its reader waits for (pass the
        frame's ``index``): otherwise workers holding later frames could fill every slot while
        the one holding the next frame waits for a slot forever."""
        deadline = None if timeout is None else time.monotonic() + timeout
        freed: list[Lease] = []
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise RingClosed(self.name)
                    idx = self._find(FREE)
                    if (
                        idx is not None
                        and self.ordered
                        and index is not None
                        and index > self._next_index
                        and self._state.count(FREE) <= 1
                    ):
                        idx = None  # the last slot is the next frame's
                    if idx is None and self.policy is Policy.LATEST:
                        idx = self._oldest_published()
                        if idx is not None:
                            self._free(idx, freed)
                            self.dropped += 1
                    if idx is not None:
                        self._state[idx] = WRITING
                        return WriteSlot(self, idx)
                    if not self._wait(deadline):
                        return None
        finally:
            _release_all(freed)

    def publish(self, slot: WriteSlot, frame: Frame, hold: Lease | None = None) -> None:
        """Hand a filled slot to the readers. ``hold``: the upstream lease of ``frame``'s
        image, released when this slot is freed (the frame moved on without a copy)."""
        freed: list[Lease] = []
        try:
            with self._cond:
                i = slot.index
                if self._state[i] != WRITING:
                    raise RuntimeError(f"{self.name}: slot {i} is not being written")
                if self.policy is Policy.LATEST:
                    published = self._indices(PUBLISHED)
                    if any(self._frames[j].index > frame.index for j in published):  # type: ignore[union-attr]
                        # a newer frame already waits: this one is stale on arrival
                        self.published += 1
                        self.dropped += 1
                        self._state[i] = FREE
                        if hold is not None:
                            freed.append(hold)
                        self._cond.notify_all()
                        return
                    for j in published:
                        self._free(j, freed)
                        self.dropped += 1
                self._counter += 1
                self._seq[i] = self._counter
                self._frames[i] = frame
                self._holds[i] = hold
                self._state[i] = PUBLISHED
                self.published += 1
                self._cond.notify_all()
        finally:
            _release_all(freed)

    def abandon(self, slot: WriteSlot) -> None:
        """Give back a slot that will not be published (nothing is counted)."""
        with self._cond:
            if self._state[slot.index] == WRITING:
                self._state[slot.index] = FREE
                self._cond.notify_all()

    def put(self, frame: Frame, timeout: float | None = None) -> bool:
        """Copy ``frame`` into a slot and publish it. False when no slot came in time."""
        slot = self.acquire(timeout)
        if slot is None:
            return False
        buf = slot.buffer(frame.image.shape)  # type: ignore[arg-type]
        if buf is not frame.image:
            np.copyto(buf, frame.image)
        self.publish(slot, frame.with_image(buf))
        return True

    # -- consumer side -------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> Lease | None:
        """The next frame to read: the newest (LATEST), the oldest (BLOCK) or the next index
        (ordered). ``None`` on timeout, or when the ring is closed and empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                idx = self._pick()
                if idx is not None:
                    frame = self._frames[idx]
                    assert frame is not None
                    self._state[idx] = READING
                    self.consumed += 1
                    if self.ordered:
                        self._next_index = frame.index + 1
                    return Lease(self, idx, frame)
                if self._closed and not self._indices(PUBLISHED):
                    return None
                if not self._wait(deadline):
                    return None

    def close(self) -> None:
        """No more writes; readers drain what is published, then get ``None``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._indices(PUBLISHED))

    def owns_buffer(self, image: np.ndarray) -> bool:
        """Whether ``image`` lies in one of this ring's reusable slot buffers."""
        return any(b is not None and np.may_share_memory(image, b) for b in self._buffers)

    # -- internals -----------------------------------------------------------------------
    def _buffer(self, i: int, shape: tuple[int, int, int]) -> np.ndarray:
        buf = self._buffers[i]
        if buf is None or buf.shape != tuple(shape):
            buf = np.empty(shape, np.uint8)
            self._buffers[i] = buf
        return buf

    def _release(self, i: int) -> None:
        freed: list[Lease] = []
        with self._cond:
            self._free(i, freed)
            self._cond.notify_all()
        _release_all(freed)

    def _free(self, i: int, freed: list[Lease]) -> None:
        """Mark slot ``i`` free (lock held); its upstream lease goes to ``freed``, to be
        released once the lock is let go."""
        self._state[i] = FREE
        self._frames[i] = None
        hold, self._holds[i] = self._holds[i], None
        if hold is not None:
            freed.append(hold)

    def _wait(self, deadline: float | None) -> bool:
        if deadline is None:
            self._cond.wait()
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self._cond.wait(left)
        return True

    def _find(self, state: int) -> int | None:
        for i, s in enumerate(self._state):
            if s == state:
                return i
        return None

    def _indices(self, state: int) -> list[int]:
        return [i for i, s in enumerate(self._state) if s == state]

    def _oldest_published(self) -> int | None:
        pub = self._indices(PUBLISHED)
        return min(pub, key=lambda i: self._seq[i]) if pub else None

    def _pick(self) -> int | None:
        pub = self._indices(PUBLISHED)
        if not pub:
            return None
        if self.ordered:
            for i in pub:
                if self._frames[i].index <= self._next_index:  # type: ignore[union-attr]
                    return i
            return None
        if self.policy is Policy.LATEST:
            return max(pub, key=lambda i: self._frames[i].index)  # type: ignore[union-attr]
        return min(pub, key=lambda i: self._seq[i])


def hand_over(ring: Ring, frame: Frame, upstream: Lease, stop: threading.Event) -> bool:
    """Put a processed ``frame`` into ``ring`` with as few copies as ownership allows:

    - the image is the upstream slot's, untouched (face analysis): the upstream lease
      moves on with it, no copy;
    - the image is a new array a processor made (a swap): frames are frozen, nobody
      writes to it again, so it is published as it is, no copy;
    - anything else that might share the upstream buffer: copied into the slot's own
      buffer, since that buffer will be rewritten.
    """
    while True:
        try:
            slot = ring.acquire(timeout=0.1, index=frame.index)
        except RingClosed:
            return False
        if slot is not None:
            break
        if stop.is_set():
            return False
    image, source = frame.image, upstream.frame.image
    if image is source:
        ring.publish(slot, frame, hold=upstream.transfer())
    elif not np.may_share_memory(image, source) and not ring.owns_buffer(image):
        ring.publish(slot, frame)
    else:
        buf = slot.buffer(image.shape)  # type: ignore[arg-type]
        np.copyto(buf, image)
        ring.publish(slot, frame.with_image(buf))
    return True
