"""A lock file beside an output, so two runs never write (or set aside) each other's file.

``<output>.lock`` holds the writer's process id, host and start time. A lock whose process is
gone (killed, crashed) is stale and taken over; a live one is refused with one line that names
its holder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import time
from pathlib import Path

from realtime.errors import SinkError

log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class OutputLock:
    """``acquire`` before touching ``path`` (or its ``.partial``), ``release`` when done."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.held = False

    def _holder(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.lock_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def acquire(self) -> None:
        if self.held:
            return
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                pid = holder.get("pid") if holder else None
                same_host = holder is not None and holder.get("host") == me["host"]
                if isinstance(pid, int) and (not same_host or _alive(pid)):
                    since = time.strftime("%H:%M:%S", time.localtime(float(holder.get("started", 0))))  # type: ignore[union-attr, arg-type]
                    where = "" if same_host else f" on {holder.get('host')}"  # type: ignore[union-attr]
                    raise SinkError(
                        f"{self.path} is being written by another run (pid {pid}{where}, since {since})",
                        fix=f"choose another --output, or wait for it (lock: {self.lock_path})",
                    ) from None
                log.info("taking over the stale lock %s (pid %s is gone)", self.lock_path, pid)
                with contextlib.suppress(FileNotFoundError):
                    self.lock_path.unlink()
                continue
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                    raise SinkError(
                        f"cannot write in {self.path.parent}: {os.strerror(exc.errno)}",
                        fix="check the folder is writable",
                    ) from exc
                raise SinkError(
                    f"cannot create {self.lock_path}: {os.strerror(exc.errno or 0)}",
                    fix="check the disk and the folder",
                ) from exc
            try:
                os.write(fd, json.dumps(me).encode())
            except OSError as exc:  # a full disk: nothing can be recorded there either
                os.close(fd)
                with contextlib.suppress(OSError):
                    self.lock_path.unlink()
                raise SinkError(
                    f"cannot write in {self.path.parent}: {os.strerror(exc.errno or 0)}",
                    fix="free some disk space" if exc.errno == errno.ENOSPC else "check the disk",
                ) from exc
            os.close(fd)
            self.held = True
            return
        raise SinkError(f"cannot lock {self.path}", fix=f"remove {self.lock_path} if no run is writing it")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self._holder()
        if holder is None or holder.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()
