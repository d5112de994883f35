"""Faults injected into the pipeline: the stream survives and recovers by itself."""

import time

import pytest

from realtime.errors import RealtimeError
from realtime.pipeline import Pipeline, PipelineConfig
from tests.pipeline.fakes import CountingSource, FlakySource, RecordingSink, SteadySink


def test_camera_lost_shows_marked_last_frame_and_resumes_by_itself():
    src = FlakySource(fail_after=15, down_opens=2, fps=30)
    sink = SteadySink()
    p = Pipeline(src, [], [sink], PipelineConfig())
    p.start()
    time.sleep(0.7)
    assert p.lost_source
    time.sleep(2.0)  # reopen backoff 0.25 + 0.5 + 1.0
    p.stop()
    p.join()
    assert sink.lost_frames > 0  # the output kept running, marked
    assert not p.lost_source and src.opens >= 4
    fresh = [i for i, _, _ in sink.frames if i >= 15]
    assert fresh, "frames resumed after the camera came back"
    assert p.stats.errors.get("source") == 1


def test_camera_delivering_another_size_is_resized_to_the_opened_size():
    src = FlakySource(resize_after=5, fps=100)
    shapes = []

    class ShapeSink(RecordingSink):
        def write(self, frame):
            shapes.append(frame.image.shape)
            super().write(frame)

    p = Pipeline(src, [], [ShapeSink()], PipelineConfig())
    p.run(duration=0.4)
    assert len(shapes) > 10 and set(shapes) == {(48, 64, 3)}


def test_file_source_that_keeps_failing_is_fatal_with_outputs_finalised():
    class Broken(FlakySource):
        def read(self):
            if self.i >= 5:
                raise OSError("disk read error")
            return super().read()

    src = Broken(live=False, n=50)
    sink = RecordingSink()
    p = Pipeline(src, [], [sink], PipelineConfig(live=False, max_restarts=2))
    with pytest.raises(RealtimeError, match="was given up"):
        p.run()
    assert sink.closed == 1 and len(sink.frames) == 5


def test_a_transient_read_error_in_a_file_is_survived_by_a_restart():
    src = FlakySource(fail_after=5, live=False, n=30)
    sink = RecordingSink()
    stats = Pipeline(src, [], [sink], PipelineConfig(live=False)).run()
    assert len(sink.frames) == 30 and stats["errors"] == {"stage:capture": 1}


def test_a_stalled_camera_is_reported_and_the_output_keeps_going():
    class Stalling(FlakySource):
        def read(self):
            if self.i == 10 and not getattr(self, "stalled", False):
                self.stalled = True
                time.sleep(1.2)  # the driver stops delivering for a while
            return super().read()

    sink = SteadySink()
    p = Pipeline(Stalling(fps=30), [], [sink], PipelineConfig(hang_timeout_s=0.4))
    p.start()
    time.sleep(1.0)
    during = (p.lost_source, sink.lost_frames)
    time.sleep(1.0)
    p.stop()
    p.join()
    assert during[0] is True and during[1] > 0  # marked "camera lost" while stalled
    assert not p.lost_source  # back by itself
    assert p.stats.errors.get("hang:capture") == 1
    assert max(i for i, _, _ in sink.frames) > 15


def test_a_virtual_camera_that_vanishes_is_reopened_while_the_file_goes_on():
    class Vanishing(RecordingSink):
        retry = True
        steady = True

        def __init__(self):
            super().__init__()
            self.broken_until = None

        def open(self, ctx):
            if self.broken_until is not None and time.monotonic() < self.broken_until:
                raise OSError("device busy")
            super().open(ctx)

        def write(self, frame):
            if len(self.frames) == 10 and self.broken_until is None:
                self.broken_until = time.monotonic() + 0.5
                raise OSError("No such device")
            super().write(frame)

    vcam, other = Vanishing(), RecordingSink()
    p = Pipeline(CountingSource(fps=60), [], [vcam, other], PipelineConfig(sink_retry_s=0.2))
    p.run(duration=2.0)
    assert vcam.opened >= 2 and vcam.closed >= 1  # closed on failure, reopened later
    assert len(vcam.frames) > 20  # frames flow again after the device came back
    assert len(other.frames) > len(vcam.frames)  # the other sink never stopped
    assert p.stats.errors.get("sink:recording") == 1
