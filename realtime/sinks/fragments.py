"""Reading back what a recording really holds: cutting a fragmented MP4 after a failed write
back to its last whole fragment, and counting the frames a file holds."""

from __future__ import annotations

import logging
import os
import struct
import time
from pathlib import Path

import av

from realtime.errors import SinkError

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


def set_aside(temp: Path, path: Path) -> Path | None:
    """A ``.partial`` from a run that was killed is someone's only copy: move it aside under a
    new name beside ``path`` (returned), never delete it."""
    if not temp.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(temp.stat().st_mtime))
    kept = path.with_name(f"{path.stem}.recovered-{stamp}{path.suffix}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.stem}.recovered-{stamp}-{n}{path.suffix}")
    os.replace(temp, kept)
    log.warning("an earlier run left an unfinished recording; it is kept as %s", kept)
    return kept


def keep_file(
    temp: Path, path: Path, written: int, *, failed: bool, cut: bool, overwrite: bool
) -> tuple[int, SinkError | None]:
    """Move a finished (or failed) recording from ``temp`` to ``path``, after cutting a failed
    fragmented MP4 back to its last whole fragment (``cut``). Returns the frames the saved
    file holds (0: nothing saved) and what went wrong, if anything did: a file that holds
    fewer frames than were written is never called complete."""
    if written == 0:
        log.warning("no frames were recorded; %s not created", path)
        temp.unlink(missing_ok=True)
        return 0, None
    error: SinkError | None = None
    try:
        if cut:
            truncate_to_complete_boxes(temp)
        saved = count_frames(temp)
        if not failed and saved < written:  # never claim what is not there
            error = SinkError(f"{path} holds {saved} of the {written} frames written", fix="check the disk")
        if saved == 0:  # only headers made it to disk: nothing anyone could play
            log.warning("no complete frame reached %s before the failure; nothing saved", temp)
            temp.unlink(missing_ok=True)
            return 0, error
        if path.exists() and not overwrite:
            return 0, SinkError(
                f"{path} appeared while recording; the recording is in {temp}", fix="rename one of them"
            )
        os.replace(temp, path)
    except OSError as exc:
        log.error("cannot move %s into place: %r", temp, exc)
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return 0, error or SinkError(f"cannot save {path}: {reason}", fix=f"the recording is in {temp}")
    log.info("saved %s (%d frames)", path, saved)
    return saved, error
