"""The pipeline end to end with in-memory sources and sinks."""

import threading
import time

from realtime.pipeline import Pipeline, PipelineConfig
from tests.pipeline.fakes import CountingSource, FailingProcessor, RecordingSink, SleepProcessor


def test_file_mode_processes_every_frame_in_order_with_several_workers():
    src = CountingSource(n=120, live=False)
    sink = RecordingSink()
    p = Pipeline(src, [SleepProcessor(0.002)], [sink], PipelineConfig(workers=3, live=False))
    stats = p.run()
    assert [f[0] for f in sink.frames] == list(range(120))
    assert all(v == 255 - (i % 256) for i, v, _ in sink.frames)  # processed pixels, not torn
    assert stats["captured"] == stats["processed"] == 120 and stats["dropped"] == 0
    assert sink.closed == 1 and src.closed == 1


def test_live_mode_drops_instead_of_queueing_and_accounts_for_every_frame():
    src = CountingSource(n=None, fps=60, live=True)
    sink = RecordingSink()
    p = Pipeline(src, [SleepProcessor(0.04)], [sink], PipelineConfig(workers=1))
    stats = p.run(duration=1.5)
    assert stats["dropped"] > 0
    assert stats["captured"] == stats["processed"] + stats["dropped"]
    assert stats["in_flight"] == 0
    idx = [f[0] for f in sink.frames]
    assert idx == sorted(idx) and len(set(idx)) == len(idx)  # in order, never repeated


def test_invariant_holds_while_running():
    src = CountingSource(n=None, fps=120, live=True)
    p = Pipeline(src, [SleepProcessor(0.01)], [RecordingSink()], PipelineConfig(workers=2))
    p.start()
    try:
        for _ in range(20):
            time.sleep(0.03)
            s = p.status()
            assert s["captured"] == s["processed"] + s["dropped"] + s["in_flight"]
            assert 0 <= s["in_flight"] <= 2 * (2 + 2) + 2
    finally:
        p.stop()
        p.join()


def test_stop_is_prompt_and_finalises_sinks():
    src = CountingSource(n=None, fps=30, live=True)
    sink = RecordingSink()
    p = Pipeline(src, [SleepProcessor(0.2)], [sink], PipelineConfig())
    p.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    p.stop()
    p.join(timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert sink.closed == 1
    assert not any(t.is_alive() for t in p._threads)


def test_failing_processor_passes_frames_through_and_is_restarted():
    src = CountingSource(n=60, live=False)
    sink = RecordingSink()
    proc = FailingProcessor(every=1)  # fails on every frame
    p = Pipeline(src, [proc], [sink], PipelineConfig(live=False))
    stats = p.run()
    assert len(sink.frames) == 60  # nothing lost
    assert stats["errors"]["flaky"] == 60
    assert proc.resets >= 5  # the runner restarted it after runs of failures


def test_failing_sink_does_not_stop_the_others():
    src = CountingSource(n=50, live=False)
    bad, good = RecordingSink(fail_after=5), RecordingSink()
    p = Pipeline(src, [], [bad, good], PipelineConfig(live=False))
    p.run()
    assert len(good.frames) == 50 and len(bad.frames) == 5
    assert bad.closed >= 1 and good.closed == 1


def test_toggle_processing_passes_frames_through():
    src = CountingSource(n=None, fps=100, live=True)
    sink = RecordingSink()
    p = Pipeline(src, [SleepProcessor(0.0)], [sink], PipelineConfig())
    p.start()
    time.sleep(0.3)
    p.toggle_processing()
    assert not p.processing
    n_before = len(sink.frames)
    time.sleep(0.3)
    p.stop()
    p.join()
    late = sink.frames[n_before + 3 :]
    assert late and all(v == i % 256 for i, v, _ in late)  # untouched pixels


def test_watchdog_reports_a_hung_stage():
    class Hang:
        name = "hang"

        def __init__(self):
            self.release = threading.Event()

        def __call__(self, frame):
            self.release.wait(3)
            return frame

    hang = Hang()
    p = Pipeline(CountingSource(fps=30), [hang], [RecordingSink()], PipelineConfig(hang_timeout_s=0.3))
    p.start()
    time.sleep(0.9)
    errors = dict(p.stats.errors)
    hang.release.set()
    p.stop()
    p.join()
    assert errors.get("hang:process-0") == 1


def test_stages_in_their_own_threads_keep_order_and_overlap():
    class Tag:
        def __init__(self, name, seconds):
            self.name, self.seconds, self.threads, self.seen = name, seconds, set(), []

        def __call__(self, frame):
            self.threads.add(threading.get_ident())
            self.seen.append(frame.index)
            time.sleep(self.seconds)
            return frame

    a, b = Tag("a", 0.01), Tag("b", 0.01)
    sink = RecordingSink()
    p = Pipeline(CountingSource(n=60, live=False), [], [sink], PipelineConfig(live=False), stages=[[a], [b]])
    t0 = time.monotonic()
    stats = p.run()
    took = time.monotonic() - t0
    assert [f[0] for f in sink.frames] == list(range(60)) and stats["dropped"] == 0
    assert a.seen == b.seen == list(range(60))  # each stage sees frames in order
    assert len(a.threads) == len(b.threads) == 1 and a.threads != b.threads
    assert took < 60 * 0.02 * 0.8  # the two stages overlapped
    assert set(stats["stages_ms"]) >= {"a", "b"}


def test_frames_move_through_stages_with_as_few_copies_as_ownership_allows():
    made = []

    class Analyse:  # leaves the image alone
        name = "analyse"

        def __call__(self, frame):
            return frame

    class Paint:  # makes a new image, as a swap does
        name = "paint"

        def __call__(self, frame):
            out = frame.image.copy()
            out[0, 0] = 7
            made.append(out)
            return frame.with_image(out)

    seen = []

    class Keep(RecordingSink):
        def write(self, frame):
            seen.append(frame.image)
            super().write(frame)

    src = CountingSource(n=40, live=False)
    p = Pipeline(src, [], [Keep()], PipelineConfig(live=False), stages=[[Analyse()], [Paint()]])
    p.run()
    assert len(seen) == 40
    assert all(a is b for a, b in zip(seen, made))  # the painted image itself reached the sink
    assert all(int(im[0, 0, 0]) == 7 and int(im[1, 1, 0]) == i % 256 for i, im in enumerate(made))
    assert all(r.waiting == 0 for r in p.rings)
