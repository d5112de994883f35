"""How many of the frames captured while a live recording ran reached it.

A live pipeline drops a frame the swap could not process in time before any output sees it,
so a recording that saves every frame it is handed can still miss frames of the camera. The
capture index of each frame (``Frame.index``, consecutive for a live source) tells the
recording what it missed: a gap between two frames it was handed. Two uses:

- the encoder climbs to faster settings while the swap drops frames (``recent``): the
  encoder competes with the swap for the same cores, and a faster preset is the cheapest CPU
  to give back;
- the run judges the recording against the frames captured while it recorded (``span``):
  below ``MIN_SHARE`` it is incomplete (README, "Exit codes").
"""

from __future__ import annotations

import threading

MIN_SHARE = 0.95  # a live recording holding less of the frames captured meanwhile is incomplete


class Coverage:
    """The capture indices a recording was handed: written by the frame's thread, read by the
    encoder's thread (``take_recent``) and at the end (``span``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first: int | None = None
        self.last: int | None = None
        self.missed = 0  # frames captured between two handed ones, never handed
        self._recent = 0  # missed since the encoder's thread last asked

    def seen(self, index: int) -> int:
        """Note a frame handed to the recording; the frames missed just before it."""
        with self._lock:
            if self.first is None or self.last is None:
                self.first = self.last = index
                return 0
            if index < self.last:  # late (live, several workers): it fills a gap counted before
                if index > self.first:
                    self.missed -= 1
                    self._recent = max(0, self._recent - 1)
                else:
                    self.missed += self.first - index - 1
                    self.first = index
                return 0
            gap = index - self.last - 1
            self.last = index
            self.missed += gap
            self._recent += gap
            return gap

    def take_recent(self) -> int:
        """Frames missed since the last call (the encoder's thread decides with it)."""

        with self._lock:
            recent, self._recent = self._recent, 0
            return recent

    @property
    def span(self) -> int:
        """Frames captured from the first frame the recording was handed to its last."""
        return 0 if self.first is None or self.last is None else self.last - self.first + 1


def short_of(saved: int, span: int) -> bool:
    """Whether a live recording holding ``saved`` of ``span`` captured frames is incomplete."""
    return span > 0 and saved < MIN_SHARE * span


def shortfall(saved: int, span: int) -> str:
    """What an incomplete live recording is missing, in the words of the CLI and the panel."""
    return (
        f"it holds {saved} of the {span} frames captured while it recorded (under {MIN_SHARE:.0%}); "
        "the others were dropped before any output: the swap fell behind"
    )
