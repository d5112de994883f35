from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime import images
from realtime.errors import InputError
from realtime.images import load_image, read_image_size
from realtime.sources import image as image_mod
from realtime.sources.base import Source
from realtime.sources.image import ImageSource

FACE = Path(image_mod.__file__).parents[1] / "assets" / "faces" / "grace_hopper.jpg"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h: a valid IHDR, then a tiny bogus IDAT."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))


def _write(path: Path, img: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), img)
    return path


def _one_line(err: pytest.ExceptionInfo[InputError]) -> None:
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="image not found") as err:
        load_image(tmp_path / "missing.jpg")
    _one_line(err)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not an image at all", np.random.default_rng(0).bytes(4096)],
    ids=["empty", "text", "random"],
)
def test_non_images_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_image(path)
    assert str(path) in str(err.value)
    _one_line(err)


@pytest.mark.parametrize("keep", [0.1, 0.6, 0.999])
def test_truncated_jpeg_is_refused(tmp_path: Path, keep: float) -> None:
    data = FACE.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError, match="truncated") as err:
        load_image(path)
    _one_line(err)


def test_bundled_photo_loads_as_bgr8() -> None:
    img = load_image(FACE)
    assert img.shape == (600, 512, 3) and img.dtype == np.uint8 and img.flags.c_contiguous


def test_one_pixel_image(tmp_path: Path) -> None:
    img = load_image(_write(tmp_path / "p.png", np.array([[[10, 20, 30]]], np.uint8)))
    assert img.shape == (1, 1, 3) and img[0, 0].tolist() == [10, 20, 30]


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    img = load_image(_write(tmp_path / "g.png", gray))
    assert img.shape == (5, 25, 3)
    assert (img[:, :, 0] == gray).all() and (img[:, :, 1] == gray).all() and (img[:, :, 2] == gray).all()


def test_alpha_is_composited_over_grey(tmp_path: Path) -> None:
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., :3] = (0, 0, 255)
    bgra[:2, :, 3] = 255  # top half opaque red, bottom half transparent
    img = load_image(_write(tmp_path / "a.png", bgra))
    assert img.shape == (4, 4, 3)
    assert img[0, 0].tolist() == [0, 0, 255]
    assert img[3, 3].tolist() == [128, 128, 128]


def test_sixteen_bit_is_scaled_to_eight(tmp_path: Path) -> None:
    deep = np.zeros((2, 3, 3), np.uint16)
    deep[0] = 65535
    deep[1] = 257 * 100
    img = load_image(_write(tmp_path / "d.png", deep))
    assert img.dtype == np.uint8
    assert (img[0] == 255).all() and (img[1] == 100).all()


def test_float_tiff_is_scaled(tmp_path: Path) -> None:
    f = np.full((3, 3, 3), 0.5, np.float32)
    img = load_image(_write(tmp_path / "f.tiff", f))
    assert img.dtype == np.uint8 and int(img[1, 1, 0]) == 128


def test_too_large_is_refused_from_the_header_without_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(20_000, 20_000))

    def no_decode(*a: object, **k: object) -> None:
        raise AssertionError("decoded a refused image")

    monkeypatch.setattr(images.cv2, "imdecode", no_decode)
    with pytest.raises(InputError, match=r"too large: 20000x20000 \(400 megapixels\)") as err:
        load_image(path)
    _one_line(err)
    # The limit is adjustable; under it, decoding is attempted (and here fails: bogus data).
    small = tmp_path / "small.png"
    small.write_bytes(_png_header_only(16, 16))
    with pytest.raises(AssertionError, match="decoded"):
        load_image(small)


def test_too_large_jpeg_header(tmp_path: Path) -> None:
    data = bytearray(FACE.read_bytes())
    sof = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    struct.pack_into(">HH", data, sof + 5, 15_000, 15_000)  # height, width
    path = tmp_path / "huge.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="too large: 15000x15000"):
        load_image(path)
    with pytest.raises(InputError, match="too large"):
        load_image(FACE, max_pixels=1000)


def test_zero_size_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(_png_header_only(0, 0))
    with pytest.raises(InputError, match=r"no pixels \(0x0\)") as err:
        load_image(path)
    _one_line(err)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"])
def test_header_size_matches_the_pixels(tmp_path: Path, ext: str) -> None:
    img = np.random.default_rng(2).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    if ext == ".pgm":
        img = img[:, :, 0]
    path = _write(tmp_path / f"x{ext}", img)
    with path.open("rb") as f:
        assert read_image_size(f) == (53, 37)
    assert load_image(path).shape == (37, 53, 3)


def test_lossless_webp_header(tmp_path: Path) -> None:
    img = np.zeros((21, 34, 3), np.uint8)
    path = tmp_path / "l.webp"
    assert cv2.imwrite(str(path), img, [cv2.IMWRITE_WEBP_QUALITY, 101])  # >100 = lossless (VP8L)
    with path.open("rb") as f:
        assert read_image_size(f) == (34, 21)


def test_image_source_repeats_the_image_at_fps(tmp_path: Path, fake_clock) -> None:
    path = _write(tmp_path / "s.png", np.full((6, 8, 3), 77, np.uint8))
    src = ImageSource(path, fps=20.0, clock=fake_clock, sleep=fake_clock.sleep)
    assert isinstance(src, Source) and src.live is True
    src.open()
    assert (src.width, src.height) == (8, 6)
    got = [src.read() for _ in range(5)]
    assert all(g is not None and g.image.shape == (6, 8, 3) and int(g.image[0, 0, 0]) == 77 for g in got)
    assert fake_clock.sleeps == pytest.approx([0.05] * 4)
    with pytest.raises(ValueError):
        got[0].image[0, 0, 0] = 1  # shared between frames: read-only
    src.close()
    src.close()


def test_image_source_bad_file_fails_at_open(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(b"nope")
    with pytest.raises(InputError):
        ImageSource(path).open()
