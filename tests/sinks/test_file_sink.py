from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from realtime.errors import SinkError
from realtime.sinks.base import Sink, SinkContext
from realtime.sinks.file import FileSink, truncate_to_complete_boxes

REPO = Path(__file__).resolve().parents[2]


def probe(path: Path) -> dict[str, Any]:
    """Decode the whole file (any decode error fails the test) and describe it."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        return {
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.codec_context.width, v.codec_context.height),
            "times": [float(f.time) for f in frames],
            "levels": [float(f.to_ndarray(format="bgr24")[:20, 30:].mean()) for f in frames],
            "format": c.format.name,
        }


def test_records_a_playable_h264_mp4_with_frame_timestamps(tmp_path: Path, make_frame) -> None:
    out = tmp_path / "out.mp4"
    sink = FileSink(out)
    assert isinstance(sink, Sink) and sink.steady is False
    ctx = SinkContext(width=65, height=49, fps=30.0, live=False)  # odd: yuv420p needs even, padded
    sink.open(ctx)
    for i in range(30):
        sink.write(make_frame(i, width=65, height=49))
    assert sink.temp_path.exists() and not out.exists()  # in place only once finished
    sink.close()
    sink.close()  # idempotent
    assert out.exists() and not sink.temp_path.exists()
    info = probe(out)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and "mp4" in info["format"]
    assert info["size"] == (66, 50)
    assert abs(len(info["times"]) - 30) <= 1
    times = info["times"]
    assert all(b > a for a, b in zip(times, times[1:]))
    assert times[-1] - times[0] == pytest.approx(29 / 30, abs=0.01)
    expected = [10 + 20 * (i % 12) for i in range(30)]
    assert info["levels"] == pytest.approx(expected, abs=6)


def test_capture_times_are_used_when_pts_do_not_advance(tmp_path: Path, make_frame, ctx) -> None:
    out = tmp_path / "vfr.mp4"
    sink = FileSink(out)
    sink.open(ctx)
    gaps = [0.0, 0.05, 0.05, 0.2, 0.05, 0.05]
    t = 50.0
    for i, gap in enumerate(gaps):
        t += gap
        sink.write(make_frame(i, pts=0.0, captured_at=t))
    sink.close()
    times = probe(out)["times"]
    assert np.diff(times) == pytest.approx(gaps[1:], abs=0.002)


def test_constant_rate_when_fps_is_given(tmp_path: Path, make_frame, ctx) -> None:
    out = tmp_path / "cfr.mkv"
    sink = FileSink(out, fps=10)
    sink.open(ctx)
    for i in range(5):
        sink.write(make_frame(i, pts=i * 0.5))  # source timing ignored
    sink.close()
    info = probe(out)
    assert "matroska" in info["format"]
    assert np.diff(info["times"]) == pytest.approx([0.1] * 4, abs=0.002)


def test_frames_of_another_size_are_fitted(tmp_path: Path, make_frame, ctx) -> None:
    out = tmp_path / "fit.mp4"
    sink = FileSink(out)
    sink.open(ctx)
    sink.write(make_frame(0, width=200, height=150))
    sink.write(make_frame(1, width=20, height=10))
    sink.close()
    info = probe(out)
    assert info["size"] == (64, 48) and len(info["times"]) == 2


def test_never_overwrites_unless_asked(tmp_path: Path, make_frame, ctx) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(SinkError, match="output file exists") as err:
        FileSink(out).open(ctx)
    assert "--force" in str(err.value) and "\n" not in str(err.value)
    assert out.read_bytes() == b"precious"
    sink = FileSink(out, overwrite=True)
    sink.open(ctx)
    sink.write(make_frame(0))
    sink.close()
    assert len(probe(out)["times"]) == 1


def test_file_created_while_recording_is_not_clobbered(tmp_path: Path, make_frame, ctx) -> None:
    out = tmp_path / "race.mp4"
    sink = FileSink(out)
    sink.open(ctx)
    sink.write(make_frame(0))
    out.write_bytes(b"someone else's")
    with pytest.raises(SinkError, match="appeared while recording"):
        sink.close()
    assert out.read_bytes() == b"someone else's"
    assert len(probe(sink.temp_path)["times"]) == 1


def test_bad_names_and_folders(tmp_path: Path, ctx) -> None:
    with pytest.raises(SinkError, match=r"\.txt"):
        FileSink(tmp_path / "out.txt").open(ctx)
    with pytest.raises(SinkError, match="folder does not exist"):
        FileSink(tmp_path / "no" / "out.mp4").open(ctx)
    with pytest.raises(SinkError, match="codec 'nonexistent-codec'"):
        FileSink(tmp_path / "c.mp4", codec="nonexistent-codec").open(ctx)
    assert not (tmp_path / "c.mp4.partial").exists()


def test_no_frames_leaves_no_file(tmp_path: Path, ctx) -> None:
    out = tmp_path / "empty.mp4"
    sink = FileSink(out)
    sink.open(ctx)
    sink.close()
    assert not out.exists() and not sink.temp_path.exists()


class FullDisk:
    """Wraps a real output container; ``mux`` fails with ENOSPC after ``ok`` packets."""

    def __init__(self, container: Any, ok: int) -> None:
        self._c = container
        self.ok = ok

    def mux(self, packet: Any) -> None:
        if self.ok <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.ok -= 1
        self._c.mux(packet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)


def test_disk_full_mid_way_leaves_a_playable_file(tmp_path: Path, make_frame, ctx) -> None:
    out = tmp_path / "full.mp4"
    sink = FileSink(out, opener=lambda *a, **k: FullDisk(av.open(*a, **k), ok=20))
    sink.open(ctx)
    with pytest.raises(SinkError) as err:
        for i in range(100):
            sink.write(make_frame(i))
    msg = str(err.value)
    assert "No space left on device" in msg and "free some disk space" in msg and "\n" not in msg
    assert f"up to the failure was saved to {out}" in msg
    with pytest.raises(SinkError):
        sink.write(make_frame(100))  # stays failed
    sink.close()  # already finalised: no error, no change
    assert out.exists() and not sink.temp_path.exists()
    info = probe(out)
    assert 10 <= len(info["times"]) <= 22  # what was muxed before the disk filled
    assert all(b > a for a, b in zip(info["times"], info["times"][1:]))


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE")
def test_real_write_error_keeps_the_complete_fragments(tmp_path: Path) -> None:
    """The OS refuses writes past a size limit (EFBIG), as a full disk would (ENOSPC)."""
    out = tmp_path / "limited.mp4"
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        import numpy as np
        from realtime.errors import SinkError
        from realtime.frame import Frame
        from realtime.sinks.base import SinkContext
        from realtime.sinks.file import FileSink
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))
        sink = FileSink({str(out)!r})
        sink.open(SinkContext(width=64, height=48, fps=30.0, live=False))
        rng = np.random.default_rng(0)
        try:
            for i in range(300):  # ~1.8 kB a frame, ~0.5 MB in all
                img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
                sink.write(Frame(index=i, captured_at=float(i), image=img, pts=i / 30))
        except SinkError as exc:
            print("ERROR", exc)
        finally:
            sink.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR writing" in done.stdout and "File too large" in done.stdout
    info = probe(out)  # decodes to the end without an error
    assert 30 <= len(info["times"]) < 300  # whole 2-second fragments survive
    assert out.stat().st_size <= 150_000


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_truncate_keeps_whole_fragments_only(tmp_path: Path) -> None:
    whole = (
        _box(b"ftyp", b"isom") + _box(b"moov", b"x" * 20) + _box(b"moof", b"a" * 8) + _box(b"mdat", b"b" * 50)
    )
    path = tmp_path / "f.mp4"
    path.write_bytes(whole + _box(b"moof", b"c" * 8) + _box(b"mdat", b"d" * 50)[:30])
    assert truncate_to_complete_boxes(path) == len(whole)
    assert path.read_bytes() == whole
    path.write_bytes(whole + _box(b"moof", b"c" * 8))  # a fragment header without its data
    assert truncate_to_complete_boxes(path) == len(whole)
    assert truncate_to_complete_boxes(path) == len(whole)  # a whole file is left alone
