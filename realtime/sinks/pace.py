"""How fast a live recording's frames arrive, and how fast its encoder gets through them:
what the encoder's ladder (``realtime.sinks.encoder``) decides with."""

from __future__ import annotations

import math


class Pace:
    """How fast frames arrive, and how fast the current encoder gets through them.

    The encoder's speed is what it delivered since it started: packets out over the time since
    its first frame went in. A single call's time would lie: an encoder with look-ahead or
    frame threads takes frames at once for a while (they wait inside it), then blocks.
    """

    SETTLE = 2  # packets a new encoder delivers before its speed is judged
    SETTLE_S = 1.0  # seconds a new encoder runs before the swap's drops are laid at its door
    STEP = 1.6  # each x264 preset is roughly this much faster than the one before

    def __init__(self) -> None:
        self.gap_s = 0.0
        self.sent = 0  # frames into the current encoder
        self.out = 0  # packets out of it
        self._since: float | None = None
        self._last: float | None = None

    def arrived(self, now: float) -> None:
        if self._last is not None:
            gap = now - self._last
            self.gap_s = gap if self.gap_s == 0 else 0.9 * self.gap_s + 0.1 * gap
        self._last = now

    def encoded(self, started: float, packets: int) -> None:
        if self._since is None:
            self._since = started
        self.sent += 1
        self.out += packets

    def changed(self) -> None:
        self.sent = self.out = 0
        self._since = None

    def settled(self, now: float) -> bool:
        """Whether the current encoder has run long enough (a second) to be blamed for the
        swap's drops: one change at a time, each given time to free the CPU."""
        return self._since is not None and now - self._since >= self.SETTLE_S

    def behind(self, queued: int, capacity: int, now: float) -> int:
        """How many rungs to climb (0: keeping up); an encoder far behind skips the rungs that
        could not do either. Frames waiting inside the encoder count as queued."""
        waiting = queued + self.sent - self.out
        if waiting < 2 or self._since is None or self.gap_s <= 0:
            return 0
        if self.out >= self.SETTLE:
            # Judged by its own speed: with frames waiting it works without pause, so packets
            # out over time is what it can do. Faster than they arrive: the queue drains.
            ratio = (now - self._since) / (self.out * 0.9 * self.gap_s)
            if ratio > 1.0:
                return max(1, math.ceil(math.log(ratio) / math.log(self.STEP)))
        elif self.out >= 1 and (now - self._since) > 4 * self.out * self.gap_s + 1.0:
            return 2  # its first frame took seconds: far too slow, whatever it holds
        return 1 if queued >= max(3, 3 * capacity // 4) else 0  # nearly full: no time to judge
