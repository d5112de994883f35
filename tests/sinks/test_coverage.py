"""What a live recording missed of the frames captured while it ran (``sinks.coverage``)."""

from __future__ import annotations

from realtime.sinks.coverage import MIN_SHARE, Coverage, short_of


def test_gaps_between_handed_frames_are_the_frames_missed() -> None:
    cov = Coverage()
    assert cov.span == 0 and cov.seen(7) == 0  # a recording started mid-run: from its first
    assert cov.seen(8) == 0 and cov.seen(11) == 2 and cov.seen(12) == 0
    assert (cov.span, cov.missed) == (6, 2)
    assert cov.take_recent() == 2 and cov.take_recent() == 0  # each drop reported once
    # Late (live, several workers): it fills a gap counted before.
    assert cov.seen(10) == 0 and (cov.span, cov.missed) == (6, 1)
    assert cov.seen(5) == 0 and (cov.first, cov.span, cov.missed) == (5, 8, 2)  # 6 and 9 missed


def test_a_recording_is_short_under_the_share() -> None:
    assert MIN_SHARE == 0.95
    assert not short_of(95, 100) and short_of(94, 100)
    assert not short_of(0, 0)  # a recording that was handed nothing is judged elsewhere
