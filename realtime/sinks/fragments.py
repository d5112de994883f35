"""Reading back what a recording really holds: cutting a fragmented MP4 after a failed write
back to its last whole fragment, and counting the frames a file holds."""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import av

log = logging.getLogger(__name__)


def truncate_to_complete_boxes(path: Path) -> int:
    """Cut an MP4 after its last complete top-level box that is not a lone ``moof``.

    After a failed write the tail may hold half a fragment; players and PyAV stop (or fail)
    there, so dropping it leaves a file that plays cleanly to its last whole fragment.
    Returns the new size.
    """
    size = path.stat().st_size
    good = 0
    offset = 0
    with path.open("rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                raw = f.read(8)
                if len(raw) < 8:
                    break
                (box_size,) = struct.unpack(">Q", raw)
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or offset + box_size > size:
                break
            offset += box_size
            if box_type != b"moof":  # a fragment is complete once its mdat is
                good = offset
    if good < size:
        os.truncate(path, good)
        log.info("cut %s from %d to %d bytes (last complete fragment)", path, size, good)
    return good


def count_frames(path: Path) -> int:
    """Video frames a file really holds, read back from its packets (0 if it cannot be read)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            stream = container.streams.video[0]
            return sum(1 for p in container.demux(stream) if p.size)
    except (av.FFmpegError, OSError):
        return 0
