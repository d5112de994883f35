"""``--remote`` URLs: ``grpc://host:8001`` (default scheme and port), ``grpcs://`` for TLS,
``http://host:8000`` and ``https://``. TLS files ride in the query:
``grpcs://box:8001?ca=ca.pem&cert=client.pem&key=client.key`` (client cert optional)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from realtime.errors import ConfigError

_SCHEMES = {"grpc": ("grpc", False, 8001), "grpcs": ("grpc", True, 8001)}
_SCHEMES |= {"http": ("http", False, 8000), "https": ("http", True, 8000)}


@dataclass(frozen=True)
class RemoteTarget:
    protocol: str  # grpc | http
    host: str
    port: int
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        scheme = self.protocol + ("s" if self.tls else "")
        return f"{scheme}://{self.address}"


def parse_remote(url: str) -> RemoteTarget:
    """A ``RemoteTarget`` from ``url``; a bad one is a ``ConfigError`` naming the form."""
    text = url.strip()
    if "://" not in text:
        text = "grpc://" + text
    parts = urlsplit(text)
    form = "use grpc://HOST:8001, grpcs://HOST:8001?ca=CA.pem, or http://HOST:8000"
    if parts.scheme not in _SCHEMES:
        raise ConfigError(f"--remote {url!r}: unknown scheme {parts.scheme!r}", fix=form)
    protocol, tls, default_port = _SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ConfigError(f"--remote {url!r}: bad port", fix=form) from exc
    if not parts.hostname:
        raise ConfigError(f"--remote {url!r}: no host", fix=form)
    if parts.path not in ("", "/"):
        raise ConfigError(f"--remote {url!r}: a path is not used", fix=form)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"ca", "cert", "key"}
    if unknown:
        raise ConfigError(f"--remote {url!r}: unknown option(s) {', '.join(sorted(unknown))}", fix=form)
    if query and not tls:
        raise ConfigError(f"--remote {url!r}: ca/cert/key need a TLS scheme", fix="use grpcs:// or https://")
    if ("cert" in query) != ("key" in query):
        raise ConfigError(f"--remote {url!r}: a client cert needs its key (and the key its cert)")
    ca, cert, key = query.get("ca"), query.get("cert"), query.get("key")
    return RemoteTarget(protocol, parts.hostname, port, tls, ca, cert, key)
