"""Downloads against a real local HTTP server: resume, retries, hash checks, clear failures."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

import pytest

from realtime.catalog import download, store
from realtime.catalog.download import DownloadPolicy, fetch
from realtime.catalog.manifest import ModelSpec
from realtime.errors import DownloadError, ModelError
from tests.catalog.httpserver import Behaviour

BODY = bytes(range(256)) * 64  # 16 KiB, every byte value, so offsets errors show
FAST = DownloadPolicy(timeout=2.0, retries=3, backoff=0.01, chunk=1024)


def spec_for(
    urls: list[str], body: bytes = BODY, *, sha: str | None = None, size: int | None = None
) -> ModelSpec:
    return ModelSpec(
        name="demo",
        kind="detector",
        file="demo.onnx",
        sha256=hashlib.sha256(body).hexdigest() if sha is None else sha,
        size=len(body) if size is None else size,
        license="test",
        urls=tuple(urls),
        hash_note="test file",
    )


def get(spec: ModelSpec, folder: Path, **kw: object) -> Path:
    kw.setdefault("policy", FAST)
    kw.setdefault("progress", False)
    return fetch(spec, folder, allow_insecure_localhost=True, **kw)  # type: ignore[arg-type]


def test_full_download_verifies_and_renames(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY)
    path = get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert path == tmp_path / "demo.onnx"
    assert path.read_bytes() == BODY
    assert not (tmp_path / "demo.onnx.part").exists()
    side = json.loads((tmp_path / "demo.onnx.sha256.json").read_text())
    assert side["sha256"] == hashlib.sha256(BODY).hexdigest() and side["size"] == len(BODY)
    # Already there and intact: no second request.
    n = len(http_files.requests)
    get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert len(http_files.requests) == n


def test_resumes_after_connection_cut(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY, faults=[("cut", 5000)])
    path = get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert path.read_bytes() == BODY
    ranges = [r for p, r in http_files.requests if p == "demo.onnx"]
    assert ranges[0] is None
    assert ranges[1] == "bytes=5000-"  # the second request continued where the cut left off


def test_resumes_part_left_by_an_interrupted_run(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY)
    (tmp_path / "demo.onnx.part").write_bytes(BODY[:7000])
    get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert http_files.requests == [("demo.onnx", "bytes=7000-")]
    assert (tmp_path / "demo.onnx").read_bytes() == BODY


def test_server_ignoring_range_restarts_cleanly(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY, honour_range=False)
    (tmp_path / "demo.onnx.part").write_bytes(b"x" * 100)  # garbage that must not survive
    get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert (tmp_path / "demo.onnx").read_bytes() == BODY


def test_wrong_hash_deletes_file_and_fails_clearly(http_files, tmp_path: Path) -> None:
    evil = bytes(reversed(BODY))  # same size, other bytes
    http_files.files["demo.onnx"] = Behaviour(evil)
    with pytest.raises(DownloadError, match="sha256") as err:
        get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert "deleted" in str(err.value)
    assert not (tmp_path / "demo.onnx").exists()
    assert not (tmp_path / "demo.onnx.part").exists()


def test_404_names_file_path_and_urls(http_files, tmp_path: Path) -> None:
    url = http_files.url("missing.onnx")
    with pytest.raises(DownloadError) as err:
        get(spec_for([url]), tmp_path)
    msg = str(err.value)
    assert "404" in msg and "demo.onnx" in msg and url in msg and str(tmp_path / "demo.onnx") in msg
    assert [r for r in http_files.requests] == [("missing.onnx", None)]  # a 404 is not retried


def test_404_falls_through_to_next_mirror(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY)
    path = get(spec_for([http_files.url("gone.onnx"), http_files.url("demo.onnx")]), tmp_path)
    assert path.read_bytes() == BODY


def test_stalling_server_times_out_and_retries(http_files, tmp_path: Path) -> None:
    http_files.stall_s = 2.0
    http_files.files["demo.onnx"] = Behaviour(BODY, faults=[("stall", 4096)])
    policy = DownloadPolicy(timeout=0.3, retries=2, backoff=0.01, chunk=1024)
    get(spec_for([http_files.url("demo.onnx")]), tmp_path, policy=policy)
    assert (tmp_path / "demo.onnx").read_bytes() == BODY
    ranges = [r for p, r in http_files.requests if p == "demo.onnx"]
    assert len(ranges) == 2 and ranges[1] == "bytes=4096-"


def test_transient_errors_back_off_exponentially(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY, faults=[("status", 503), ("status", 503)])
    slept: list[float] = []
    policy = DownloadPolicy(timeout=2.0, retries=3, backoff=0.5, chunk=4096)
    get(spec_for([http_files.url("demo.onnx")]), tmp_path, policy=policy, sleep=slept.append)
    assert slept == [0.5, 1.0]
    assert (tmp_path / "demo.onnx").read_bytes() == BODY


def test_no_network_says_which_file_where_and_from_where(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/demo.onnx"
    slept: list[float] = []
    with pytest.raises(DownloadError) as err:
        get(spec_for([url]), tmp_path, sleep=slept.append)
    msg = str(err.value)
    assert "could not download demo.onnx" in msg
    assert f"download {url} by hand and put it at {tmp_path / 'demo.onnx'}" in msg
    assert len(slept) == FAST.retries


def test_disk_full_is_a_clear_download_error(http_files, tmp_path: Path, monkeypatch) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY)

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    real_open = open
    monkeypatch.setattr(download, "open", lambda p, m: FullFile(real_open(p, m)), raising=False)
    with pytest.raises(DownloadError, match="disk full") as err:
        get(spec_for([http_files.url("demo.onnx")]), tmp_path)
    assert "--models-dir" in str(err.value)
    assert not (tmp_path / "demo.onnx").exists()


def test_unwritable_cache_dir_is_a_clear_download_error(http_files, tmp_path: Path, monkeypatch) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY)

    def deny(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", deny)
    with pytest.raises(DownloadError, match="cannot write to the model cache") as err:
        get(spec_for([http_files.url("demo.onnx")]), tmp_path / "cache")
    assert "REALTIME_MODELS_DIR" in str(err.value)
    assert http_files.requests == []


def test_https_only(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="only https"):
        fetch(spec_for(["http://example.com/demo.onnx"]), tmp_path, progress=False)
    with pytest.raises(DownloadError, match="only https"):  # localhost needs the test-only flag
        fetch(spec_for(["http://127.0.0.1:9/demo.onnx"]), tmp_path, progress=False)
    with pytest.raises(DownloadError, match="only https"):  # the flag is for 127.0.0.1 only
        fetch(
            spec_for(["http://10.0.0.1/demo.onnx"]), tmp_path, progress=False, allow_insecure_localhost=True
        )


def test_unverifiable_model_is_refused_then_pinned_on_trust(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY)
    spec = spec_for([http_files.url("demo.onnx")], sha="", size=0)
    with pytest.raises(ModelError, match="trust-unverified"):
        get(spec, tmp_path)
    assert http_files.requests == []  # refused before downloading anything
    get(spec, tmp_path, trust_unverified=True)
    trusted = json.loads((tmp_path / "trusted.json").read_text())
    assert trusted["demo.onnx"]["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert store.verify(spec, tmp_path).pinned  # now verifiable against the pinned hash
    (tmp_path / "demo.onnx").write_bytes(BODY[:-1] + b"\x00")
    with pytest.raises(ModelError, match="pinned"):
        store.verify(spec, tmp_path)


def test_pickled_checkpoints_are_refused(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="gfp",
        kind="enhancer",
        file="GFPGANv1.4.pth",
        sha256="",
        size=0,
        license="x",
        urls=("https://example.com/GFPGANv1.4.pth",),
        hash_note="x",
    )
    with pytest.raises(ModelError, match="only ONNX"):
        fetch(spec, tmp_path, progress=False)
    with pytest.raises(ModelError, match="only ONNX"):
        store.verify(spec, tmp_path)


def test_unresolvable_host_is_not_retried(tmp_path: Path, monkeypatch) -> None:
    import socket

    def no_dns(*a, **k):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    slept: list[float] = []
    with pytest.raises(DownloadError, match="cannot resolve"):
        fetch(spec_for(["https://models.invalid/demo.onnx"]), tmp_path, progress=False, sleep=slept.append)
    assert slept == []  # offline is reported at once, not after minutes of backoff
