"""Verified, resumable model downloads.

A file is streamed to ``<name>.part`` in the cache folder, resumed with an HTTP ``Range``
request after a cut or a stall, retried with exponential backoff, checked against its size and
sha256, and only then renamed into place: a half-written or corrupt file never carries the
model's name. A hash mismatch deletes the download. A download whose end nothing confirms
(no manifest size, no length from the server, no chunked framing) may be cut short, so with
``trust_unverified`` it is kept but its hash is never pinned. A TLS certificate that does not
verify fails at once (retrying cannot fix it). Only HTTPS is used (redirects included);
plain ``http://127.0.0.1`` is accepted solely through ``allow_insecure_localhost``, which
exists for the tests' local server.
"""

from __future__ import annotations

import errno
import http.client
import logging
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from realtime.catalog import store
from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.errors import ConfigError, DownloadError

log = logging.getLogger(__name__)

USER_AGENT = "realtime-model-fetch/0.1"
LOCALHOST = "127.0.0.1"
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class DownloadPolicy:
    """How hard to try: per-read timeout (s), retries per URL, first backoff (s, doubled)."""

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    chunk: int = 1 << 20


class _Retry(Exception):
    """A transient failure: try the same URL again, resuming."""


class _NextUrl(Exception):
    """A permanent failure for this URL (404, 403...): try the next mirror."""


def _check_url(url: str, allow_insecure_localhost: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if allow_insecure_localhost and parts.scheme == "http" and parts.hostname == LOCALHOST:
        return
    raise DownloadError(f"refusing to download from {url}: only https:// URLs are allowed")


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs the original policy allows (never https -> http)."""

    def __init__(self, allow_insecure_localhost: bool) -> None:
        super().__init__()
        self.allow_insecure_localhost = allow_insecure_localhost

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        _check_url(newurl, self.allow_insecure_localhost)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _write_error(exc: OSError, path: Path) -> DownloadError:
    folder = path.parent
    if exc.errno == errno.ENOSPC:
        return DownloadError(
            f"disk full while writing {path}",
            fix=f"free space on the disk of {folder}, or set --models-dir / REALTIME_MODELS_DIR elsewhere",
        )
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DownloadError(
            f"cannot write to the model cache {folder}: {exc.strerror or exc}",
            fix="set --models-dir or REALTIME_MODELS_DIR to a writable folder",
        )
    return DownloadError(
        f"cannot write {path}: {exc}", fix="check the disk, or set --models-dir to another folder"
    )


def _open_part(part: Path, *, append: bool) -> Any:
    try:
        return open(part, "ab" if append else "wb")
    except OSError as exc:
        raise _write_error(exc, part) from exc


def _make_progress(enabled: bool) -> Any:
    # rich's progress display loads only when a download starts (start-up cost).
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        disable=not enabled,
        transient=False,
    )


def _download_once(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: Path,
    spec: ModelSpec,
    policy: DownloadPolicy,
    on_bytes: Callable[[int, int | None], None],
) -> bool:
    """One HTTP attempt, appending to ``part`` from its current size; returns when complete.

    Returns whether the end of the file is confirmed: by the manifest's size, the server's
    length (``Content-Length`` or ``Content-Range``) or a properly ended chunked body. A body
    that just stops, with none of these, cannot be told from a download cut short.
    """
    offset = part.stat().st_size if part.exists() else 0
    if spec.size and offset > spec.size:
        part.unlink()
        offset = 0
    if spec.size and offset == spec.size:
        return True
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = opener.open(req, timeout=policy.timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            log.info("%s: server refused to resume at %d; starting over", spec.file, offset)
            part.unlink(missing_ok=True)
            raise _Retry(f"HTTP 416 at offset {offset}") from exc
        if exc.code in _RETRY_STATUS:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
        raise _NextUrl(f"HTTP {exc.code} {exc.reason} from {url}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):  # retrying cannot fix trust
            raise _certificate_error(url, reason, spec, part.with_name(spec.file)) from exc
        if isinstance(reason, socket.gaierror):  # no DNS: offline, retrying will not help
            raise _NextUrl(f"{url}: cannot resolve the host ({reason})") from exc
        raise _Retry(f"{type(exc).__name__}: {reason}") from exc
    with resp:
        status = resp.status
        if offset and status == 200:
            log.info("%s: server ignored the Range request; starting over", spec.file)
            offset = 0
        elif offset and status == 206:
            crange = resp.headers.get("Content-Range", "")
            if not crange.startswith(f"bytes {offset}-"):
                part.unlink(missing_ok=True)
                raise _Retry(f"unexpected Content-Range {crange!r} for offset {offset}")
        total = _announced_total(resp, offset) or spec.size or None
        confirmed = total is not None or bool(getattr(resp, "chunked", False))
        on_bytes(offset, total)
        with _open_part(part, append=bool(offset)) as out:
            while True:
                try:
                    block = resp.read(policy.chunk)
                except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                    raise _Retry(f"{type(exc).__name__} after {offset} bytes: {exc}") from exc
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as exc:
                    raise _write_error(exc, part) from exc
                offset += len(block)
                on_bytes(offset, total)
        if total is not None and offset < total:
            raise _Retry(f"connection closed after {offset} of {total} bytes")
    return confirmed


def _announced_total(resp: Any, offset: int) -> int | None:
    """The file's full size as the server states it: ``Content-Range``'s total on a resumed
    request, else ``offset`` plus ``Content-Length``; ``None`` when it states neither."""
    crange = resp.headers.get("Content-Range", "")
    if resp.status == 206 and "/" in crange and crange.rsplit("/", 1)[1].isdigit():
        return int(crange.rsplit("/", 1)[1])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _certificate_error(
    url: str, reason: ssl.SSLCertVerificationError, spec: ModelSpec, dest: Path
) -> DownloadError:
    host = urlsplit(url).hostname or url
    why = getattr(reason, "verify_message", None) or str(reason)
    return DownloadError(
        f"cannot download {spec.file}: the TLS certificate of {host} is not trusted ({why})",
        fix="install the system CA certificates (e.g. the ca-certificates package), or behind a proxy "
        f"that re-signs HTTPS set SSL_CERT_FILE to its CA bundle; or download {url} by hand "
        f"and put it at {dest}",
    )


def fetch(
    spec: ModelSpec,
    models_dir: str | os.PathLike[str] | None = None,
    *,
    trust_unverified: bool = False,
    progress: bool = True,
    policy: DownloadPolicy | None = None,
    allow_insecure_localhost: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``spec`` into the cache (if not already there and intact); return its path.

    Raises ``DownloadError`` with a one-line message naming the file, the folder it belongs in
    and the URLs to get it from by hand, or ``ModelError`` for a model without a published or
    pinned sha256 unless ``trust_unverified``.
    """
    policy = policy or DownloadPolicy()
    store.check_loadable_suffix(spec)
    if spec.bundled:
        return spec.bundled_path
    folder = store.resolve_models_dir(models_dir)
    dest = folder / spec.file
    expected, _pinned = store.expected_sha256(spec, folder)
    if not expected and not trust_unverified:
        raise store.unverifiable_error(spec)
    if not spec.urls:
        raise DownloadError(f"model {spec.name!r} has no download URL", fix=f"put the file at {dest}")
    for url in spec.urls:
        _check_url(url, allow_insecure_localhost)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(exc, dest) from exc
    if dest.is_file() and not expected:
        # Nothing vouches for the file there (it may be a download cut short): fetch it
        # again rather than pin whatever it is.
        log.info("%s is in the cache with no hash to check it against; downloading it again", spec.file)
    elif dest.is_file():
        try:
            store.verify(spec, folder, trust_unverified=trust_unverified)
            log.info("%s is already in the cache", spec.file)
            return dest
        except Exception as exc:  # a stale or partial file: download a fresh copy over it
            log.warning("%s in the cache is not usable (%s); downloading it again", spec.file, exc)

    part = dest.with_name(dest.name + store.PART_SUFFIX)
    opener = urllib.request.build_opener(_HttpsOnlyRedirects(allow_insecure_localhost))
    errors: list[str] = []
    with _make_progress(progress) as bar:
        task = bar.add_task(spec.file, total=spec.size or None)

        def on_bytes(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        for url in spec.urls:
            confirmed = _try_url(opener, url, part, spec, policy, on_bytes, errors, sleep)
            if confirmed is not None:
                break
        else:
            raise DownloadError(
                f"could not download {spec.file} ({'; '.join(errors)})",
                fix=f"check the network, or download {' or '.join(spec.urls)} by hand and put it at {dest}",
            )
    return _finish(spec, part, dest, folder, expected, confirmed)


def _try_url(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: Path,
    spec: ModelSpec,
    policy: DownloadPolicy,
    on_bytes: Callable[[int, int | None], None],
    errors: list[str],
    sleep: Callable[[float], None],
) -> bool | None:
    """Attempt ``url`` with retries and backoff. ``None`` when it failed, else whether the
    file's end was confirmed (see ``_download_once``)."""
    for attempt in range(policy.retries + 1):
        try:
            return _download_once(opener, url, part, spec, policy, on_bytes)
        except _NextUrl as exc:
            errors.append(str(exc))
            log.warning("%s: %s", spec.file, exc)
            return None
        except _Retry as exc:
            if attempt == policy.retries:
                errors.append(f"{url}: {exc}")
                log.warning("%s: giving up on %s after %d attempts: %s", spec.file, url, attempt + 1, exc)
                return None
            delay = policy.backoff * (2**attempt)
            log.warning("%s: %s; retrying in %.1f s (attempt %d)", spec.file, exc, delay, attempt + 2)
            sleep(delay)
    return None


def _finish(spec: ModelSpec, part: Path, dest: Path, folder: Path, expected: str, confirmed: bool) -> Path:
    """Check size and hash of the finished ``.part``, then rename it into place.

    With no hash to check against (``--trust-unverified``), the file's hash is pinned only
    when its end was ``confirmed``: a download cut short must never become the trusted copy.
    """
    size = part.stat().st_size
    if spec.size and size != spec.size:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"downloaded {spec.file} has {size} bytes, expected {spec.size}; deleted it",
            fix=f"retry `realtime models fetch {spec.name}`; if it persists the mirror serves another file",
        )
    digest = store.sha256_file(part)
    if expected and digest != expected:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"downloaded {spec.file} fails its sha256 check (got {digest}, expected {expected}); deleted it",
            fix=f"retry `realtime models fetch {spec.name}`; if it persists the mirror serves another file",
        )
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise _write_error(exc, dest) from exc
    if not expected and not confirmed:
        log.warning(
            "%s: the server did not say how long the file is, so a cut download cannot be told "
            "from a complete one; kept it at %s but did NOT pin its hash (sha256 %s, %d bytes). "
            "Check it, then pin it with `realtime models verify --trust-unverified %s`",
            spec.file,
            dest,
            digest,
            size,
            spec.name,
        )
        return dest
    store.remember_sha256(dest, digest)
    if not expected:
        store.pin_hash(spec, digest, size, folder)
    log.info("%s: downloaded and verified (sha256 %s)", spec.file, digest)
    return dest


def with_requirements(names: Iterable[str], specs: Mapping[str, ModelSpec] | None = None) -> list[str]:
    """``names`` plus every model they require, dependencies first, without duplicates."""
    specs = load_manifests() if specs is None else specs
    out: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in out:
            return
        if name not in specs:
            raise ConfigError(f"unknown model {name!r}", fix=f"known models: {', '.join(sorted(specs))}")
        if name in chain:
            raise ConfigError(f"model requirements form a cycle: {' -> '.join((*chain, name))}")
        for dep in specs[name].requires:
            visit(dep, (*chain, name))
        out.append(name)

    for n in names:
        visit(n, ())
    return out
