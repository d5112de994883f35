"""The ``triton`` backend: a model served by a Triton Inference Server (``--remote URL``).

It implements the inference Protocol over ``tritonclient`` (gRPC by default, HTTP possible),
so a swapper, recognizer or enhancer runs remotely without knowing it. Callers keep seeing the
manifest's float tensors; on the wire image tensors travel as uint8 crops
(``realtime.inference.triton_wire``), a quarter of the bytes.

At start the server must be live, the model ready, and its metadata (names, dtypes, shapes)
equal to the wire contract derived from our manifest; otherwise one ``RemoteError`` with the
fix. While running, a call that fails raises ``RemoteTimeout`` (it would have blown the frame
budget: abandoned, counted as a drop; ``STALLED_AFTER`` in a row mean a stalled server) or
``RemoteLost`` (the server went away, or stalled); while lost,
calls fail at once except one reconnect attempt per ``RETRY_S``, so the stream never waits on
a dead server and swapping resumes by itself when the server is back.

Each worker thread gets its own client (the HTTP client is not thread-safe; a gRPC client per
thread keeps one slow call from queueing behind another), and the shared state is locked.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.errors import RemoteError
from realtime.inference.session import (
    ModelNotSupported,
    ProbeResult,
    SessionOptions,
    TensorInfo,
    register_backend,
)
from realtime.inference.triton_url import RemoteTarget, parse_remote
from realtime.inference.triton_wire import WireContract, contract, decode_image, encode_image

log = logging.getLogger(__name__)

RETRY_S = 0.5  # while lost, one reconnect attempt per this many seconds
STALLED_AFTER = 3  # this many abandoned calls in a row: a stalled server, treated as lost
START_TIMEOUT_S = 5.0
_MAX_MSG = 2**31 - 1
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", _MAX_MSG),
    ("grpc.max_receive_message_length", _MAX_MSG),
    # Reconnect quickly after a server restart (gRPC's default backoff grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class RemoteLost(RemoteError):
    """The server stopped answering mid-stream (refused, reset, unavailable)."""


class RemoteTimeout(RemoteError):
    """A call that would have blown the frame budget; it was abandoned."""


def _is_tls_failure(text: str) -> bool:
    t = text.lower()
    return any(k in t for k in ("ssl", "tls", "handshake", "certificate", "wrong version number"))


def explain_start_failure(target: RemoteTarget, exc: BaseException) -> RemoteError:
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    if target.tls and _is_tls_failure(text):
        return RemoteError(
            f"TLS handshake with the Triton server at {target} failed: {text}",
            fix="check the server's certificate and pass its CA as ?ca=CA.pem "
            "(or use grpc:// if the server does not use TLS)",
        )
    if not target.tls and "socket closed" in text.lower():  # what a TLS server does to plain gRPC
        return RemoteError(
            f"the Triton server at {target} closed the connection: {text}",
            fix="if it uses TLS, use grpcs://HOST:PORT?ca=CA.pem; else check that it is a Triton gRPC port",
        )
    return RemoteError(
        f"the Triton server at {target} is not reachable: {text}",
        fix="start it (see docs/remote.md), check the host and port of --remote, "
        "or run without --remote to use this machine",
    )


def server_live(client: Any, target: RemoteTarget) -> bool:
    """Whether the server answers that it is live; ``RemoteError`` naming it when it does not
    answer at all."""
    kw = {"client_timeout": START_TIMEOUT_S} if target.protocol == "grpc" else {}
    try:
        return bool(client.is_server_live(**kw))
    except RemoteError:
        raise
    except Exception as exc:
        raise explain_start_failure(target, exc) from exc


def check_server(url: str) -> None:
    """Raise ``RemoteError`` naming the server at ``url`` when it is not live: checked before
    a local file is asked for, so a server that is down is never blamed on the model cache."""
    target = parse_remote(url)
    if importlib.util.find_spec("tritonclient") is None:
        return  # the session that needs it says how to install it
    if not server_live(make_client(target, START_TIMEOUT_S), target):
        raise RemoteError(f"the Triton server at {target} is not live", fix="see its log; restart it")


def make_client(target: RemoteTarget, timeout_s: float) -> Any:
    """A new ``tritonclient`` client for ``target`` (gRPC or HTTP, TLS as the URL says)."""
    if target.protocol == "grpc":
        # Optional: only with --remote.
        import tritonclient.grpc as grpcclient

        kw: dict[str, Any] = {"channel_args": _CHANNEL_ARGS}
        if target.tls:
            for f in (target.ca, target.cert, target.key):  # tritonclient reads them by path
                if f and not Path(f).is_file():
                    raise RemoteError(
                        f"TLS file {f} of --remote {target} does not exist", fix="check ?ca=, ?cert=, ?key="
                    )
            kw.update(
                ssl=True, root_certificates=target.ca, private_key=target.key, certificate_chain=target.cert
            )
        return grpcclient.InferenceServerClient(target.address, **kw)
    # Optional: only with --remote.
    import tritonclient.http as httpclient

    kwh: dict[str, Any] = {"connection_timeout": timeout_s, "network_timeout": timeout_s}
    if target.tls:
        kwh["ssl"] = True
        kwh["ssl_options"] = {k: v for k, v in (("ca_certs", target.ca),) if v}
        if target.cert:
            kwh["ssl_options"].update(certfile=target.cert, keyfile=target.key)
    return httpclient.InferenceServerClient(target.address, **kwh)


def model_metadata(client: Any, name: str, timeout_s: float) -> dict[str, Any]:
    try:
        return dict(client.get_model_metadata(name, as_json=True, client_timeout=timeout_s))
    except TypeError:  # the HTTP client returns JSON and has no client_timeout here
        return dict(client.get_model_metadata(name))


def server_models(client: Any) -> list[str]:
    try:
        index = client.get_model_repository_index(as_json=True)
    except TypeError:
        index = client.get_model_repository_index()
    except Exception:
        return []
    rows = index.get("models", index) if isinstance(index, dict) else index
    return sorted(str(r.get("name")) for r in rows if isinstance(r, dict))


def check_metadata(c: WireContract, meta: Mapping[str, Any]) -> str | None:
    """Why the server's metadata differs from the wire contract, or None when it matches."""

    def fmt(dtype: str, shape: Any) -> str:
        return f"{dtype} [{', '.join(str(int(s)) for s in shape)}]"

    sides = (("input", c.inputs, meta.get("inputs", [])), ("output", c.outputs, meta.get("outputs", [])))
    for side, want, got_rows in sides:
        got = {r["name"]: r for r in got_rows}
        if set(got) != {t.name for t in want}:
            return f"{side}s are {sorted(got)}, expected {sorted(t.name for t in want)}"
        for t in want:
            r = got[t.name]
            expected = fmt(t.triton_dtype, (-1, *t.dims))
            actual = fmt(str(r.get("datatype")), r.get("shape", []))
            if actual != expected:
                return f"{side} {t.name!r} is {actual}, expected {expected}"
    return None


def spec_for_file(path: Path) -> ModelSpec:
    """The manifest entry whose file is ``path`` (the name the server knows the model by)."""
    for spec in load_manifests().values():
        if spec.file == path.name:
            return spec
    raise ModelNotSupported(f"{path.name} is not a model of the manifests")


class TritonSession:
    """One served model; safe to call from several threads at once."""

    provider = "triton"

    def __init__(self, spec: ModelSpec, remote: str, *, budget_ms: float = 100.0) -> None:
        self.spec = spec
        self.target = parse_remote(remote)
        self.contract = contract(spec)
        self.budget_s = max(0.001, budget_ms / 1000.0)
        self.inputs = tuple(TensorInfo(t.name, tuple(t.shape), t.dtype) for t in spec.inputs)
        self.outputs = tuple(TensorInfo(t.name, tuple(t.shape), t.dtype) for t in spec.outputs)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self._lost_since: float | None = None
        self._next_try = 0.0
        self._timeouts_in_row = 0
        self.counts = {"calls": 0, "ok": 0, "timeouts": 0, "lost": 0, "bytes_up": 0, "bytes_down": 0}
        try:
            self._check_server()
        except BaseException:
            self.close()
            raise

    # --- start -----------------------------------------------------------------------

    def _check_server(self) -> None:
        name, target = self.spec.name, self.target
        client = self._client()
        if not server_live(client, target):
            raise RemoteError(f"the Triton server at {target} is not live", fix="see its log; restart it")
        try:
            ready = client.is_model_ready(name)
        except Exception as exc:
            raise explain_start_failure(target, exc) from exc
        if not ready:
            have = server_models(client)
            raise RemoteError(
                f"model {name!r} is not ready on the Triton server at {target} "
                f"(it serves: {', '.join(have) or 'nothing'})",
                fix=f"run `realtime triton export {name} --out REPO` and serve REPO "
                "(tritonserver --model-repository=REPO)",
            )
        why = check_metadata(self.contract, model_metadata(client, name, START_TIMEOUT_S))
        if why:
            raise RemoteError(
                f"model {name!r} on {target} does not match the manifest: {why}",
                fix=f"re-export it with `realtime triton export {name}` and reload the server",
            )
        log.info("%s: served by Triton at %s", name, target)

    # --- clients ---------------------------------------------------------------------

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = make_client(self.target, self.budget_s)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _drop_client(self) -> None:
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            try:
                client.close()
            except Exception as exc:  # closing a broken channel may fail too
                log.debug("closing a Triton client failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients), []
        for c in clients:
            try:
                c.close()
            except Exception as exc:
                log.debug("closing a Triton client failed: %s", exc)

    # --- state -----------------------------------------------------------------------

    @property
    def lost(self) -> bool:
        return self._lost_since is not None

    def status(self) -> str:
        return "remote lost" if self.lost else "remote ok"

    def _mark_lost(self, why: str) -> None:
        with self._lock:
            self.counts["lost"] += 1
            if self._lost_since is None:
                self._lost_since = time.monotonic()
                log.warning("%s: remote lost (%s); faces pass through until it is back", self.spec.name, why)
            self._next_try = time.monotonic() + RETRY_S

    def _mark_ok(self) -> None:
        with self._lock:
            self.counts["ok"] += 1
            self._timeouts_in_row = 0
            if self._lost_since is not None:
                gone = time.monotonic() - self._lost_since
                self._lost_since = None
                log.warning("%s: remote back after %.1f s", self.spec.name, gone)

    # --- inference -------------------------------------------------------------------

    def _wire_inputs(self, feeds: Mapping[str, np.ndarray], module: Any) -> tuple[list[Any], int]:
        out, nbytes = [], 0
        for t in self.contract.inputs:
            if t.name not in feeds:
                raise KeyError(f"missing input {t.name!r}")
            x = feeds[t.name]
            arr = encode_image(x, self.contract, t.layout) if t.image else np.ascontiguousarray(x, t.dtype)
            inp = module.InferInput(t.name, list(arr.shape), t.triton_dtype)
            inp.set_data_from_numpy(arr)
            out.append(inp)
            nbytes += arr.nbytes
        return out, nbytes

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            self.counts["calls"] += 1
            if self._lost_since is not None and time.monotonic() < self._next_try:
                raise RemoteLost(f"the Triton server at {self.target} is lost")
            if self._lost_since is not None:
                self._next_try = time.monotonic() + RETRY_S  # this thread tries; others wait
        # Optional: only with --remote.
        from tritonclient.utils import InferenceServerException

        if self.target.protocol == "grpc":
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module  # type: ignore[no-redef]
        client = self._client()
        inputs, up = self._wire_inputs(feeds, module)
        outputs = [module.InferRequestedOutput(t.name) for t in self.contract.outputs]
        try:
            if self.target.protocol == "grpc":
                result = client.infer(self.spec.name, inputs, outputs=outputs, client_timeout=self.budget_s)
            else:
                result = client.infer(self.spec.name, inputs, outputs=outputs)
        except InferenceServerException as exc:
            raise self._failure(exc) from exc
        except Exception as exc:  # sockets of the HTTP client, gevent timeouts
            raise self._failure(exc) from exc
        res: dict[str, np.ndarray] = {}
        down = 0
        for t in self.contract.outputs:
            arr = result.as_numpy(t.name)
            down += arr.nbytes
            res[t.name] = decode_image(arr, self.contract, t.layout) if t.image else arr
        self._mark_ok()
        with self._lock:
            self.counts["bytes_up"] += up
            self.counts["bytes_down"] += down
        return res

    def _failure(self, exc: BaseException) -> RemoteError:
        get_status = getattr(exc, "status", None)
        status = str(get_status() or "") if callable(get_status) else ""
        text = " ".join(str(exc).split())[:200]
        timed_out = "DEADLINE_EXCEEDED" in status or "deadline" in text.lower() or "timed out" in text.lower()
        if timed_out and not self.lost:
            with self._lock:
                self.counts["timeouts"] += 1
                self._timeouts_in_row += 1
                stalled = self._timeouts_in_row >= STALLED_AFTER
            if not stalled:
                return RemoteTimeout(f"{self.spec.name}: call abandoned after {self.budget_s * 1000:.0f} ms")
            text = f"{STALLED_AFTER} calls in a row took over {self.budget_s * 1000:.0f} ms"
        self._drop_client()  # a fresh channel on the next attempt
        self._mark_lost(text or type(exc).__name__)
        return RemoteLost(f"the Triton server at {self.target} is lost: {text}")


def _factory(model: Path, options: SessionOptions) -> TritonSession:
    if not options.remote:
        raise ModelNotSupported("no --remote server given")
    return TritonSession(spec_for_file(model), options.remote, budget_ms=options.remote_budget_ms)


def _probe() -> ProbeResult | None:
    if importlib.util.find_spec("tritonclient") is None:
        return ProbeResult("tritonclient is not installed", fix="pip install 'realtime[remote]'")
    return None


register_backend(
    "triton",
    _factory,  # type: ignore[arg-type]
    _probe,
    rank=5,
    description="a Triton Inference Server (--remote grpc://HOST:8001): the models run there",
)
