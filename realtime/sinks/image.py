"""Writing one still image: the sink of still mode (``--input a.jpg --output b.jpg``).

The image is encoded and written atomically (a temporary name beside it, then a rename), so a
crash never leaves half a file under the real name; an existing file is kept unless the user
passes ``--force``. A frame in which no face was found is not written (``no_face`` says so).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import InputError, SinkError
from realtime.frame import Frame
from realtime.paths import same_file
from realtime.sinks.base import SinkBase, SinkContext

log = logging.getLogger(__name__)


def write_image(path: Path, image: np.ndarray, params: Sequence[int] = ()) -> None:
    """Encode and write an image atomically, with the usual permissions (0666 less the umask).
    ``params`` go to ``cv2.imencode``."""
    ok, data = cv2.imencode(path.suffix, image, list(params))
    if not ok:
        raise InputError(f"cannot encode the output image {path}", fix="use .jpg or .png")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.tobytes())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SinkError(f"cannot write {path}: {exc.strerror}", fix="check the folder and the disk") from exc


def check_image_output(path: Path, *, overwrite: bool, input_path: Path | None = None) -> None:
    """Refuse before any work: the input itself, an existing file without ``--force``, a
    missing or read-only folder, or a format OpenCV cannot write."""
    if input_path is not None and same_file(path, input_path):
        raise InputError(
            f"refusing to overwrite the input image {input_path}", fix="choose another --output path"
        )
    if path.exists() and not overwrite:
        raise InputError(f"output file exists: {path}", fix="choose another name or pass --force")
    if not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}", fix="create it first")
    if not os.access(path.parent, os.W_OK):  # a read-only filesystem refuses root too
        raise SinkError(f"cannot write in {path.parent}", fix="check the folder is writable")
    if not cv2.haveImageWriter(str(path)):
        raise InputError(
            f"cannot write images of type {path.suffix or '(none)'!r}: {path}", fix="use .jpg or .png"
        )


class ImageFileSink(SinkBase):
    """Writes the frame it gets to ``path`` (the last one, if it gets several)."""

    name = "image"
    steady = False
    retry = False
    path: Path

    def __init__(self, path: str | Path, *, overwrite: bool = False, require_face: bool = True) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.require_face = require_face
        self.written = 0
        self.no_face = False
        self.faces = 0

    def open(self, ctx: SinkContext) -> None:
        check_image_output(self.path, overwrite=self.overwrite)

    def write(self, frame: Frame) -> None:
        self.faces = len(frame.faces)
        if self.require_face and not frame.faces:
            self.no_face = True
            return
        write_image(self.path, frame.image)
        self.written += 1
        self.frames_saved = self.written

    def close(self) -> None:
        return None
