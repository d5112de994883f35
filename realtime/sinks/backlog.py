"""The queue in front of a live recording's encoder, and the thread that empties it.

The output thread hands a recording each frame and moves on; the encoder works through them
at its own pace on its own thread. The queue is bounded in bytes (frames of any size), deep
enough to ride out a burst (a keyframe, a slow second while the swap warms up). How full it is
tells the encoder when to switch to faster settings; only when it is full are frames refused,
and the caller counts them.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_BYTES = 256 * 1024 * 1024  # about 2.8 s of 1080p or 6 s of 720p (YUV 4:2:0)


class Backlog:
    """``offer`` items of ``nbytes`` each; ``work(item)`` runs on the thread for each, in order,
    then ``after(queued, capacity)`` (where the encoder decides to go faster).

    An exception from ``work`` stops the thread; ``offer`` and ``close`` raise it.
    """

    def __init__(
        self,
        work: Callable[[Any], None],
        *,
        max_bytes: int = DEFAULT_BYTES,
        after: Callable[[int, int], None] | None = None,
        name: str = "realtime-encoder",
    ) -> None:
        self._work = work
        self._after = after
        self.max_bytes = max_bytes
        self._items: collections.deque[tuple[Any, int]] = collections.deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._closing = False
        self.error: BaseException | None = None
        self.capacity = 0  # in frames of the size last offered
        # Not a daemon: a recording is finalised even when the program is ending.
        self._thread = threading.Thread(target=self._run, name=name, daemon=False)
        self._thread.start()

    @property
    def queued(self) -> int:
        return len(self._items)

    def offer(self, item: Any, nbytes: int) -> bool:
        """Queue ``item``; ``False`` when there is no room (the caller skips it)."""
        with self._cond:
            if self.error is not None:
                raise self.error
            self.capacity = max(1, self.max_bytes // max(nbytes, 1))
            if self._items and self._bytes + nbytes > self.max_bytes:
                return False
            self._items.append((item, nbytes))
            self._bytes += nbytes
            self._cond.notify()
            return True

    def close(self) -> None:
        """Work through what is queued, then end the thread; raise why it stopped, if it failed."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait(0.5)
                    if not threading.main_thread().is_alive():
                        self._closing = True  # the program is ending without close(): finish
                if not self._items:
                    return
                item, nbytes = self._items[0]
            try:
                self._work(item)
            except BaseException as exc:
                with self._cond:
                    self.error = exc
                    self._items.clear()
                    self._bytes = 0
                return
            with self._cond:
                self._items.popleft()
                self._bytes -= nbytes
                queued, capacity = len(self._items), self.capacity
            if self._after is not None:
                try:
                    self._after(queued, capacity)
                except BaseException as exc:
                    with self._cond:
                        self.error = exc
                        self._items.clear()
                    return
