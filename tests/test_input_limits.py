"""Hostile pictures and paths through the real command line: every image path (``--face``
photos in live and still mode, a still ``--input``) refuses a picture whose header claims too
many pixels before decoding it, and a symlink loop is one line, never a traceback."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.app import ASSETS
from realtime.errors import InputError

FACE = ASSETS / "faces" / "grace_hopper.jpg"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, idat: bytes) -> bytes:
    """An RGB 8-bit PNG of ``width`` x ``height`` with ``idat`` as its compressed pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` and holds a few rows of real pixel data (enough
    for OpenCV to start decoding: this is what made it raise ``cv2.error``)."""
    return png(width, height, zlib.compress(b"\0" * 1000))


def png_bomb(side: int) -> bytes:
    """A genuine ``side`` x ``side`` black PNG: 25000 px squeezes ~1.9 GB of pixels into ~1.8 MB."""
    z = zlib.compressobj(9)
    row = b"\0" * (3 * side + 1)
    return png(side, side, b"".join(z.compress(row) for _ in range(side)) + z.flush())


def jpeg_header(width: int, height: int) -> bytes:
    """A real baseline JPEG whose frame header (SOF0) is rewritten to claim ``width`` x ``height``."""
    ok, enc = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    assert ok
    data = bytearray(enc.tobytes())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


# Runs the command as its child and prints the child's peak RSS (KiB): measured from a small
# parent, since a child forked straight from pytest inherits pytest's RSS in ru_maxrss.
_PEAK = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


def run_cli(*args: str) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in MiB) of ``realtime ARGS`` in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, sys.executable, "-m", "realtime", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    return proc.returncode, proc.stderr, int(proc.stdout.split()[-1]) // 1024


def assert_refused(code: int, err: str, *needles: str) -> None:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("realtime: error:")]
    assert len(lines) == 1, err
    assert code == 2, err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    made = {
        "png": ("huge.png", png_header(100_000, 100_000)),
        "jpeg": ("huge.jpg", jpeg_header(65_000, 65_000)),
        "bomb": ("bomb.png", png_bomb(25_000)),
    }
    out = {}
    for key, (name, data) in made.items():
        (root / name).write_bytes(data)
        out[key] = root / name
    return out


def _still(face: Path, image: Path, tmp: Path) -> list[str]:
    return ["--face", str(face), "--input", str(image), "--output", str(tmp / "o.jpg")]


ROLES = {
    "face, live": lambda bad, tmp: ["--face", str(bad), "--demo", "--sink", "null", "--duration", "1"],
    "face, still": lambda bad, tmp: _still(bad, FACE, tmp),
    "input, still": lambda bad, tmp: _still(FACE, bad, tmp),
}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_a_huge_image_header_is_refused_in_one_line(
    pictures: dict[str, Path], tmp_path: Path, kind: str, role: str
) -> None:
    bad = pictures[kind]
    code, err, _ = run_cli(*ROLES[role](bad, tmp_path))
    assert_refused(code, err, "too large", bad.name)
    assert not (tmp_path / "o.jpg").exists()


@pytest.mark.parametrize("role", ["face, live", "face, still"])
def test_a_png_bomb_as_face_is_refused_before_decoding(
    pictures: dict[str, Path], tmp_path: Path, role: str
) -> None:
    bomb = pictures["bomb"]
    assert bomb.stat().st_size < 2_000_000  # small on disk, ~1.9 GB once decoded
    code, err, peak_mib = run_cli(*ROLES[role](bomb, tmp_path))
    assert peak_mib < 600, f"peak RSS {peak_mib} MiB: the bomb was decoded"
    assert_refused(code, err, "too large", "25000x25000")


def _loop(tmp_path: Path, suffix: str) -> Path:
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def test_a_symlink_loop_as_live_input_is_named_in_one_line(tmp_path: Path) -> None:
    loop = _loop(tmp_path, ".jpg")
    code, err, _ = run_cli("--face", str(FACE), "--input", str(loop), "--sink", "null", "--duration", "1")
    assert_refused(code, err, "symbolic link loop", loop.name)


@pytest.mark.parametrize("suffix", [".jpg", ".mp4"])
def test_a_symlink_loop_as_input_is_one_line(tmp_path: Path, suffix: str) -> None:
    loop = _loop(tmp_path, suffix)
    out = tmp_path / f"out{suffix}"
    code, err, _ = run_cli("--face", str(FACE), "--input", str(loop), "--output", str(out))
    assert_refused(code, err, loop.name)
    assert not out.exists()


def _claim(data: bytes, ext: str, w: int, h: int) -> bytes:
    """``data`` (a 53x37 image in format ``ext``) with its header rewritten to claim w x h."""
    b = bytearray(data)
    if ext in ("hdr", "pfm", "pam"):
        old = {"hdr": b"-Y 37 +X 53", "pfm": b"53 37", "pam": b"WIDTH 53\nHEIGHT 37"}[ext]
        new = {
            "hdr": b"-Y %d +X %d" % (h, w),
            "pfm": b"%d %d" % (w, h),
            "pam": b"WIDTH %d\nHEIGHT %d" % (w, h),
        }
        assert old in b
        return bytes(b).replace(old, new[ext], 1)
    if ext == "ras":
        struct.pack_into(">II", b, 4, w, h)
    elif ext == "avif":
        for i in [i for i in range(len(b) - 4) if b[i : i + 4] == b"ispe"]:
            struct.pack_into(">II", b, i + 8, w, h)
    elif ext == "jp2":
        i = b.find(b"ihdr")
        struct.pack_into(">II", b, i + 4, h, w)
    return bytes(b)


@pytest.mark.parametrize("ext", ["hdr", "pfm", "pam", "ras", "avif", "jp2"])
def test_every_decodable_format_is_sized_from_its_header(
    tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formats beyond JPEG/PNG that OpenCV decodes here: sized before decoding, so a header
    that claims 900 megapixels (under OpenCV's own 1 gigapixel cap) is refused unread."""
    from realtime import images
    from realtime.images import load_image, read_image_size

    small = np.random.default_rng(1).integers(0, 255, (37, 53, 3)).astype(np.uint8)
    path = tmp_path / f"x.{ext}"
    ok = cv2.imwrite(str(path), small.astype(np.float32) / 255 if ext in ("hdr", "pfm") else small)
    if not ok:
        pytest.skip(f"this OpenCV build cannot write .{ext}")
    with path.open("rb") as f:
        assert read_image_size(f) == (53, 37)
    assert load_image(path).shape == (37, 53, 3)

    huge = tmp_path / f"huge.{ext}"
    huge.write_bytes(_claim(path.read_bytes(), ext, 30_000, 30_000))

    def no_decode(*a: object, **k: object) -> None:
        raise AssertionError("decoded a refused image")

    monkeypatch.setattr(images.cv2, "imdecode", no_decode)
    with pytest.raises(InputError, match="too large: 30000x30000"):
        load_image(huge)
