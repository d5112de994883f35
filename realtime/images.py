"""Reading a picture safely: face photos, image inputs, stills.

``load_image`` is the one way the app reads a picture. It reads the size from the file header
before decoding, so a hostile or mistaken 50 000 x 50 000 PNG is refused without allocating
gigabytes, and it normalises every decodable layout (grayscale, alpha, 16-bit, float) to the
HxWx3 uint8 BGR the pipeline expects.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from realtime.errors import InputError
from realtime.paths import check_input_file

MAX_PIXELS = 100_000_000  # 100 megapixels: far above any photo, far below an OOM


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic variants).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD9)}


def _jpeg_size(f: BinaryIO) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        byte = f.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            continue
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker:
            return None
        m = marker[0]
        if m in _JPEG_STANDALONE or m == 0x00:
            continue
        if m in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        raw = f.read(2)
        if len(raw) < 2:
            return None
        (length,) = struct.unpack(">H", raw)
        if m in _JPEG_SOF:
            head = f.read(5)
            if len(head) < 5:
                return None
            _, h, w = struct.unpack(">BHH", head)
            return w, h
        f.seek(length - 2, 1)


def _tiff_size(f: BinaryIO, order: str) -> tuple[int, int] | None:
    f.seek(4)
    (ifd,) = struct.unpack(order + "I", f.read(4))
    f.seek(ifd)
    raw = f.read(2)
    if len(raw) < 2:
        return None
    (count,) = struct.unpack(order + "H", raw)
    dims: dict[int, int] = {}
    for _ in range(min(count, 512)):
        entry = f.read(12)
        if len(entry) < 12:
            break
        tag, typ, _n = struct.unpack(order + "HHI", entry[:8])
        if tag in (256, 257):
            fmt = order + ("H" if typ == 3 else "I")
            dims[tag] = struct.unpack(fmt, entry[8 : 8 + struct.calcsize(fmt)])[0]
    if 256 in dims and 257 in dims:
        return dims[256], dims[257]
    return None


def _pnm_size(f: BinaryIO) -> tuple[int, int] | None:
    f.seek(2)
    text = f.read(1024)
    tokens: list[int] = []
    for line in text.split(b"\n"):
        for tok in line.split(b"#", 1)[0].split():
            if not tok.isdigit():
                return None
            tokens.append(int(tok))
            if len(tokens) == 2:
                return tokens[0], tokens[1]
    return None


def _text_header_size(f: BinaryIO, pattern: bytes) -> tuple[int, int] | None:
    """Width and height from a text header (PFM, PAM, Radiance HDR) by a regex of two groups
    named ``w`` and ``h``."""
    f.seek(0)
    m = re.search(pattern, f.read(4096))
    return (int(m.group("w")), int(m.group("h"))) if m else None


def _isobmff_size(f: BinaryIO) -> tuple[int, int] | None:
    """AVIF/HEIF: the largest 'ispe' (image spatial extents) property; JPEG 2000 (JP2): the
    'ihdr' box. Both sit near the start of the file."""
    f.seek(0)
    data = f.read(1 << 16)
    best: tuple[int, int] | None = None
    for m in re.finditer(b"ispe", data):
        w, h = struct.unpack(">II", data[m.end() + 4 : m.end() + 12])
        if best is None or w * h > best[0] * best[1]:
            best = (w, h)
    if best is None and (i := data.find(b"ihdr")) >= 0:
        h, w = struct.unpack(">II", data[i + 4 : i + 12])
        best = (w, h)
    return best


def read_image_size(f: BinaryIO) -> tuple[int, int] | None:
    """(width, height) from the header of any format OpenCV decodes here: JPEG, PNG, GIF,
    BMP, WebP, TIFF, PNM/PAM/PFM, Sun raster, Radiance HDR, AVIF or JPEG 2000.

    ``None`` when the format is none of these or the header is cut short: the caller then
    refuses the file rather than let a decoder allocate whatever it claims.
    """
    head = f.read(32)
    try:
        if head.startswith(b"\xff\x4f\xff\x51"):  # JPEG 2000 codestream: SOC, then SIZ
            xs, ys, xo, yo = struct.unpack(">IIII", head[8:24])
            return xs - xo, ys - yo
        if head[4:8] == b"ftyp" or head.startswith(b"\x00\x00\x00\x0cjP  "):
            return _isobmff_size(f)
        if head.startswith(b"\x59\xa6\x6a\x95"):  # Sun raster
            w, h = struct.unpack(">II", head[4:12])
            return w, h
        if head[:3] in (b"PF\n", b"Pf\n", b"PF\r", b"Pf\r"):
            return _text_header_size(f, rb"\A..\s+(?P<w>\d+)\s+(?P<h>\d+)")
        if head.startswith(b"P7"):
            return _text_header_size(f, rb"(?s)WIDTH\s+(?P<w>\d+).*?HEIGHT\s+(?P<h>\d+)")
        if head.startswith((b"#?RADIANCE", b"#?RGBE")):
            return _text_header_size(f, rb"\n[-+]Y\s+(?P<h>\d+)\s+[-+]X\s+(?P<w>\d+)")
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(f)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return w, h
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return w, h
        if head.startswith(b"BM"):
            (dib,) = struct.unpack("<I", head[14:18])
            if dib == 12:
                w, h = struct.unpack("<HH", head[18:22])
                return w, h
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            chunk = head[12:16]
            if chunk == b"VP8X":
                w = int.from_bytes(head[24:27], "little") + 1
                more = head[27:30] if len(head) >= 30 else head[27:] + f.read(3)
                return w, int.from_bytes(more[:3], "little") + 1
            if chunk == b"VP8L":
                (bits,) = struct.unpack("<I", head[21:25])
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", head[26:30])
                return w & 0x3FFF, h & 0x3FFF
            return None
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(f, "<" if head[:2] == b"II" else ">")
        if head[:1] == b"P" and head[1:2] in b"123456" and len(head) > 2 and head[2:3].isspace():
            return _pnm_size(f)
    except struct.error:
        return None
    return None


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded layout (gray, gray+alpha, BGR, BGRA; 8/16-bit or float) -> HxWx3 uint8.

    Alpha is composited over mid grey, the neutral colour a face detector sees as background.
    """
    img = image
    if img.dtype == np.uint16:
        img = cv2.convertScaleAbs(img, alpha=1.0 / 257.0)
    elif img.dtype in (np.float32, np.float64):
        finite = np.nan_to_num(img.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        scale = 255.0 if float(finite.max(initial=0.0)) <= 1.0 else 1.0
        img = np.clip(finite * scale + 0.5, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise InputError(f"unsupported pixel type {img.dtype}", fix="save it as 8-bit PNG or JPEG")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    channels = img.shape[2]
    if channels == 3:
        return np.ascontiguousarray(img)
    if channels in (2, 4):
        color = img[:, :, :1] if channels == 2 else img[:, :, :3]
        alpha = img[:, :, -1:].astype(np.float32) * (1.0 / 255.0)
        out = color.astype(np.float32) * alpha + 128.0 * (1.0 - alpha)
        out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        if channels == 2:
            out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(out)
    raise InputError(f"unsupported image with {channels} channels", fix="save it as PNG or JPEG")


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS, *, what: str = "image") -> np.ndarray:
    """Read a picture as HxWx3 uint8 BGR, or raise a one-line ``InputError``.

    The size in the file's header is checked against ``max_pixels`` before anything is
    decoded. JPEGs are turned upright by their EXIF orientation (phone photos); other formats
    are decoded unchanged so that alpha and 16-bit samples can be normalised here. ``what``
    names the picture in messages ("image", "photo").
    """
    p = check_input_file(path, what)
    try:
        with p.open("rb") as f:
            size = read_image_size(f)
            f.seek(0)
            head = f.read(2)
    except OSError as exc:
        raise InputError(
            f"cannot read {what} {p}: {exc.strerror or exc}", fix="check its permissions"
        ) from exc
    if size is None:  # no size, no decoding: a decoder would allocate what the file claims
        raise InputError(
            f"cannot decode {what} {p}: unknown format, or damaged/truncated",
            fix="pass a JPEG or PNG photo",
        )
    _check_size(p, size[0], size[1], max_pixels)
    data = np.fromfile(str(p), dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"{what} file is empty: {p}", fix="pass a JPEG or PNG photo")
    flags = cv2.IMREAD_COLOR if head == b"\xff\xd8" else cv2.IMREAD_UNCHANGED
    try:
        decoded = cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise InputError(
            f"cannot decode {what} {p}: {_cv_reason(exc)}", fix="pass a JPEG or PNG photo"
        ) from exc
    if decoded is None:
        raise InputError(
            f"cannot decode {what} {p}: unknown format, or damaged/truncated",
            fix="pass a JPEG or PNG photo",
        )
    _check_size(p, decoded.shape[1], decoded.shape[0], max_pixels)
    return to_bgr8(decoded)


def _check_size(path: Path, w: int, h: int, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise InputError(f"image has no pixels ({w}x{h}): {path}", fix="pass another photo")
    if w * h > max_pixels:
        raise InputError(
            f"image too large: {w}x{h} ({w * h / 1e6:.0f} megapixels) in {path}",
            fix=f"resize it below {max_pixels / 1e6:.0f} megapixels",
        )


def _cv_reason(exc: cv2.error) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else "OpenCV error"


PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def photos_of(entry: str | Path) -> list[Path]:
    """The photos a ``--face`` entry names: the file itself, or the images of a folder
    (sorted): one person in several photos (``realtime.swap.mesh.variants``)."""
    entry = Path(entry)
    if entry.is_dir():
        photos = sorted(p for p in entry.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
        if not photos:
            raise InputError(
                f"--face folder has no photos: {entry}",
                fix=f"put photos of one person in it ({', '.join(PHOTO_SUFFIXES[:3])} ...)",
            )
        return photos
    return [entry]
