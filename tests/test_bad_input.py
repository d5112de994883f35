"""Bad input, fuzzed: every photo or file a user might pass is handled or refused in one line."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.app import ASSETS
from realtime.errors import InputError, NoFaceError
from realtime.images import load_image

JPEG = (ASSETS / "faces" / "astronaut.jpg").read_bytes()
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (the pixel data is a stub)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT"))
    )  # fmt: skip


def check(path: Path) -> None:
    """Either a proper BGR image comes back or a one-line InputError is raised."""
    try:
        img = load_image(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 1


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "x.jpg"
    p.write_bytes(data)
    check(p)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(JPEG) - 1))
def test_truncated_jpeg(tmp_path: Path, cut: int) -> None:
    p = tmp_path / "cut.jpg"
    p.write_bytes(JPEG[:cut])
    check(p)


@FUZZ
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    channels=st.sampled_from([1, 3, 4]),
    depth=st.sampled_from([np.uint8, np.uint16]),
    ext=st.sampled_from([".png", ".tif"]),
    cut=st.floats(0.0, 1.0),
)
def test_odd_images_normalise_to_bgr8(tmp_path, h, w, channels, depth, ext, cut) -> None:
    rng = np.random.default_rng(h * 100 + w)
    top = 255 if depth is np.uint8 else 65535
    arr = rng.integers(0, top + 1, size=(h, w, channels) if channels > 1 else (h, w)).astype(depth)
    p = tmp_path / f"img{ext}"
    assert cv2.imwrite(str(p), arr)
    data = p.read_bytes()
    if cut < 0.5:  # half the cases are truncated too
        p.write_bytes(data[: int(len(data) * cut * 2)])
        check(p)
        return
    img = load_image(p)
    assert img.shape == (h, w, 3) and img.dtype == np.uint8


def test_zero_size_and_huge_images_are_refused_before_decoding(tmp_path: Path) -> None:
    zero = tmp_path / "zero.png"
    zero.write_bytes(png_header(0, 0))
    with pytest.raises(InputError):
        load_image(zero)
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(20000, 20000))
    with pytest.raises(InputError, match="20000x20000"):
        load_image(huge)


def test_a_photo_with_no_face_is_a_one_line_error(tmp_path: Path) -> None:
    from realtime.swap.mesh.photo import prepare_source

    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 400, 3), 200, np.uint8))
    with pytest.raises(NoFaceError, match="no face found") as err:
        prepare_source([wall])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["huge", "text", "random", "truncated"])
def test_cli_refuses_bad_face_and_input_files_in_one_line(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / ("bad.png" if kind == "huge" else "bad.jpg")
    content = {
        "huge": png_header(20000, 20000),
        "text": b"hello, I am not a picture\n",
        "random": np.random.default_rng(0).bytes(3000),
        "truncated": JPEG[:2000],
    }[kind]
    bad.write_bytes(content)
    for args in (["--face", str(bad), "--demo", "--sink", "null"], ["--input", str(bad), "--sink", "null"]):
        proc = subprocess.run(
            [sys.executable, "-m", "realtime", *args, "--duration", "1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode != 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("realtime: error:")]
        assert len(lines) == 1 and "bad." in lines[0], proc.stderr
