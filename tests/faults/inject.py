"""Run the real command line with one fault injected inside it.

    python tests/faults/inject.py FAULT -- ARGS...

FAULT is NAME or NAME@N (N: the frame index where it starts). The patch is made on the
installed package before ``realtime.cli.main(ARGS)`` runs, so everything else is the program
as users run it: real threads, signals, files and exit code.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout this file is in


def _at(spec: str) -> tuple[str, int]:
    name, _, n = spec.partition("@")
    return name, int(n or 0)


def inject(spec: str) -> None:
    name, at = _at(spec)
    if name in ("swap-returns-none", "swap-raises-systemexit", "swap-raises-keyboardinterrupt"):
        from realtime.swap.mesh.swapper import MeshSwapper

        real = MeshSwapper.__call__

        def bad(self, frame):  # type: ignore[no-untyped-def]
            if frame.index == at:
                if name == "swap-returns-none":
                    return None
                raise SystemExit(3) if name == "swap-raises-systemexit" else KeyboardInterrupt
            return real(self, frame)

        MeshSwapper.__call__ = bad  # type: ignore[method-assign]
    elif name == "swap-slow":
        # A swap that takes 80 ms a frame from frame N on (a machine too small for the size
        # asked): the live pipeline drops frames before any output sees them.
        from realtime.swap.mesh.swapper import MeshSwapper

        real_swap = MeshSwapper.__call__

        def slow_swap(self, frame):  # type: ignore[no-untyped-def]
            if frame.index >= at:
                time.sleep(0.08)
            return real_swap(self, frame)

        MeshSwapper.__call__ = slow_swap  # type: ignore[method-assign]
    elif name in ("stage-crash-once", "stage-crash-always"):
        import realtime.pipeline.pipeline as pl

        runner = getattr(pl, "ProcessorRunner", None) or pl._ProcessorRunner  # before the split too
        real_run = runner.__call__
        crashed = []

        def crash(self, frame, processors=None):  # type: ignore[no-untyped-def]
            if frame.index >= at and (name == "stage-crash-always" or not crashed):
                crashed.append(frame.index)
                raise RuntimeError(f"injected stage crash at frame {frame.index}")
            return real_run(self, frame, processors)

        runner.__call__ = crash
    elif name == "window-stuck":
        # A preview window whose GUI call never returns (a hung compositor, a broken Qt).
        import realtime.sinks.window as window

        window.display_problem = lambda *a, **k: None

        class StuckGui:
            def namedWindow(self, *a, **k):
                return None

            def imshow(self, *a, **k):
                threading.Event().wait()  # forever

            def waitKey(self, *a, **k):
                return -1

            def getWindowProperty(self, *a, **k):
                return 1.0

            def destroyWindow(self, *a, **k):
                return None

        real_init = window.WindowSink.__init__

        def init(self, *a, **k):  # type: ignore[no-untyped-def]
            real_init(self, *a, **k)
            self._gui = StuckGui()

        window.WindowSink.__init__ = init  # type: ignore[method-assign]
    elif name == "slow-vcam":
        # A virtual camera that takes 200 ms a frame (a driver that blocks).
        import realtime.sinks.null as null

        real_write = null.NullSink.write

        def slow(self, frame):  # type: ignore[no-untyped-def]
            time.sleep(0.2)
            real_write(self, frame)

        null.NullSink.write = slow  # type: ignore[method-assign]
    elif name == "encoder-stuck":
        # An encoder that never keeps up (200 ms a frame, whatever its settings), in front of a
        # 32 MB queue: the recording must skip, say so, and exit 1 naming what it kept.
        import av

        import realtime.sinks.file as file_mod

        class StuckVideoFrame:
            @staticmethod
            def from_ndarray(*a, **k):  # type: ignore[no-untyped-def]
                time.sleep(0.2)
                return av.VideoFrame.from_ndarray(*a, **k)

        class StuckAv:
            VideoFrame = StuckVideoFrame

            def __getattr__(self, attr):  # type: ignore[no-untyped-def]
                return getattr(av, attr)

        file_mod.av = StuckAv()  # type: ignore[assignment]
        real_file_init = file_mod.FileSink.__init__

        def small_queue(self, *a, **k):  # type: ignore[no-untyped-def]
            real_file_init(self, *a, **{**k, "queue_bytes": 32 * 1024 * 1024})

        file_mod.FileSink.__init__ = small_queue  # type: ignore[method-assign]
    elif name == "encoder-burst":
        # An encoder that takes 200 ms a frame for 30 frames from frame N (a keyframe storm, a
        # core taken by something else for a few seconds), then runs at its normal speed. It
        # is patched where the recording makes the frames it encodes, whichever thread that is.
        import av

        import realtime.sinks.file as file_mod

        made = [0]

        class SlowVideoFrame:
            @staticmethod
            def from_ndarray(*a, **k):  # type: ignore[no-untyped-def]
                made[0] += 1
                if at <= made[0] < at + 30:
                    time.sleep(0.2)
                return av.VideoFrame.from_ndarray(*a, **k)

        class AvProxy:
            VideoFrame = SlowVideoFrame

            def __getattr__(self, attr):  # type: ignore[no-untyped-def]
                return getattr(av, attr)

        file_mod.av = AvProxy()  # type: ignore[assignment]
    else:
        raise SystemExit(f"inject.py: unknown fault {spec!r}")


def main() -> int:
    spec, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: inject.py FAULT -- ARGS"
    inject(spec)
    from realtime.cli import main as realtime_main

    return realtime_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
