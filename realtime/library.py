"""What the panel lists for a streamer: face photos (uploaded and bundled) as thumbnails, the
recordings and snapshots with their sizes for download, the saved presets, and the steps that
install a virtual camera.

Every name that comes back from the browser is checked here (``safe_name``) and resolved only
inside its own folder, so a request can never reach another file.
"""

from __future__ import annotations

import hashlib
import os
import platform
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime.datadir import safe_name
from realtime.errors import InputError, SinkError
from realtime.images import load_image

KINDS = {"recordings": ".mp4", "snapshots": ".jpg"}
THUMB_PX = 160
MAX_FACES = 12


def bundled_faces() -> dict[str, Path]:
    """The face photos shipped with the program (the demo's), by file name."""
    folder = Path(str(resources.files("realtime").joinpath("assets", "faces")))
    return {p.name: p for p in sorted(folder.glob("*.jpg"))}


def face_path(folder: Path, name: str) -> Path:
    """An uploaded face (``<hash>.png`` in ``folder``) or a bundled one (``<name>.jpg``)."""
    if name.endswith(".png"):
        path = folder / safe_name(name, ".png")
    else:
        path = bundled_faces().get(safe_name(name, ".jpg"), folder / "missing.png")
    if not path.is_file():
        raise InputError(f"no face photo named {name}", fix="upload it again or pick one from the list")
    return path


def faces(folder: Path, current: str | None) -> list[dict[str, Any]]:
    """Uploaded faces, newest first (only those that were accepted), then the bundled ones."""
    uploaded = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime, reverse=True)[:MAX_FACES]
    out = [{"name": p.name, "label": "uploaded", "bundled": False} for p in uploaded]
    out += [{"name": n, "label": Path(n).stem.replace("_", " "), "bundled": True} for n in bundled_faces()]
    for entry in out:
        entry["current"] = entry["name"] == current
    return out


def thumbnail(path: Path) -> bytes:
    """A small JPEG of a face photo (its longer side ``THUMB_PX``)."""
    image = load_image(path, what="face photo")
    h, w = image.shape[:2]
    k = THUMB_PX / max(h, w)
    small = cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(small), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise InputError(f"cannot make a thumbnail of {path.name}")
    return bytes(buf)


def files(data: Path) -> list[dict[str, Any]]:
    """Finished recordings and snapshots, newest first, with their size in bytes (a recording
    still being written is ``.partial`` and not listed)."""
    out = []
    for kind, suffix in KINDS.items():
        folder = data / kind
        if not folder.is_dir():
            continue
        for p in folder.glob(f"*{suffix}"):
            st = p.stat()
            out.append({"kind": kind, "name": p.name, "size": st.st_size, "mtime": st.st_mtime})
    return sorted(out, key=lambda e: e["mtime"], reverse=True)


def file_path(data: Path, kind: str, name: str) -> Path:
    if kind not in KINDS:
        raise InputError(f"no such folder: {kind}")
    path = data / kind / safe_name(name, KINDS[kind])
    if not path.is_file():
        raise InputError(f"no {kind[:-1]} named {name}")
    return path


def presets(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def vcam_help() -> dict[str, Any]:
    """How to get a virtual camera on this system (what ``realtime doctor`` says to do)."""
    system = platform.system()
    if system == "Linux":  # the package once, then the doctor's fix loads the driver
        steps = ["sudo apt install v4l2loopback-dkms"]
        alt = "No driver possible (Secure Boot)? Send a stream to OBS instead: --sink stream."
    else:
        steps = ["Install OBS Studio"]
        alt = "Or send a stream to OBS: --sink stream."
    from realtime.sinks.vcam import driver_fix

    return {"system": system, "install": steps, "fix": driver_fix(system), "alternative": alt}


def store_upload(folder: Path, data: bytes, max_bytes: int) -> tuple[str, bool]:
    """Keep an uploaded photo in ``folder`` as ``<sha256>.png``, decoded first with the pixel
    limit of every image path and re-encoded (only pixels we decoded are kept): (its name,
    whether it is new)."""
    if len(data) > max_bytes:
        raise InputError(f"upload is {len(data)} bytes; the limit is {max_bytes}")
    tmp = folder / f".upload-{os.getpid()}-{threading.get_ident()}"
    try:
        tmp.write_bytes(data)
        image = load_image(tmp, what="uploaded photo")
    except OSError as exc:  # a full disk: one line, nothing left behind
        raise SinkError(
            f"cannot store the photo in {folder}: {os.strerror(exc.errno or 0)}", fix="free some disk space"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    name = hashlib.sha256(data).hexdigest()[:16] + ".png"
    target = folder / name
    new = not target.exists()
    if not cv2.imwrite(str(target), image):  # re-encoded: only pixels we decoded are kept
        target.unlink(missing_ok=True)
        raise SinkError(f"cannot store the photo in {folder}", fix="free some disk space")
    return name, new
