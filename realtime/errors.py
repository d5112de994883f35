"""Typed errors raised at the library's boundary.

Every error carries a one-line message that says what went wrong and what to do. Only
``realtime.cli`` turns them into a printed line and an exit code.
"""

from __future__ import annotations


class RealtimeError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""

    exit_code = 2

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} ({fix})" if fix else message)


class ConfigError(RealtimeError):
    """A bad flag, preset key or value."""


class InputError(RealtimeError):
    """An input file, photo or stream that cannot be used."""


class NoFaceError(InputError):
    """A source photo in which no face was found."""


class SourceError(RealtimeError):
    """A camera or stream that cannot be opened or stopped delivering."""


class SinkError(RealtimeError):
    """An output (virtual camera, window, file, HTTP preview) that cannot be used."""


class ModelError(RealtimeError):
    """A model file that is missing, corrupt or fails its hash check."""


class DownloadError(ModelError):
    """A model download that failed."""


class ProviderError(RealtimeError):
    """No inference provider could run a model; the message lists why each one failed."""


class RunFailed(RealtimeError):
    """A failure during the run (an output that failed, a stage given up, output left
    incomplete). Raised after every output was finalised; the message names the partial
    output that was kept. ``result`` holds the run's figures for ``--stats-json``."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None, result: dict[str, object] | None = None):
        super().__init__(message, fix=fix)
        self.result = result or {}


class StageError(RealtimeError):
    """A pipeline stage that failed beyond recovery (during the run: exit 1)."""

    exit_code = 1


class RemoteError(RealtimeError):
    """A Triton server (``--remote``) that cannot be used: down, missing a model, a model
    that does not match the manifest, or a TLS failure."""
