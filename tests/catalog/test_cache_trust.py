"""What the model cache trusts: ``models verify`` really reads the file, a download whose end
cannot be confirmed is never pinned, and an untrusted TLS certificate fails at once."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from realtime.catalog import store
from realtime.catalog.manifest import load_manifests
from realtime.errors import DownloadError, ModelError
from tests.catalog.httpserver import Behaviour
from tests.catalog.test_download import BODY, FAST, get, spec_for

SHA = hashlib.sha256(BODY).hexdigest()


def models_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", "models", "--models-dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """Replace the file's bytes, keeping its size and modification time."""
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("name", ["scrfd_2.5g", "yoloface_8n"])  # published sha256 / pinned one
def test_models_verify_rereads_a_file_its_sidecar_vouches_for(tmp_path: Path, name: str) -> None:
    spec = load_manifests()[name]
    path = tmp_path / spec.file
    good = hashlib.sha256(name.encode()).digest() * (spec.size // 32 + 1)
    path.write_bytes(good[: spec.size])
    if spec.sha256:  # a sidecar as written after a good download of the published file
        side = {"size": spec.size, "mtime_ns": path.stat().st_mtime_ns, "sha256": spec.sha256}
        (tmp_path / (spec.file + store.SIDECAR_SUFFIX)).write_text(json.dumps(side))
    else:  # the user pinned the file they had
        pinned = models_cli(tmp_path, "verify", "--trust-unverified", name)
        assert pinned.returncode == 0 and "ok" in pinned.stdout, pinned.stderr
    _rewrite_keeping_stat(path, bytes(spec.size))  # now garbage, same size and mtime

    proc = models_cli(tmp_path, "verify", name)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{name}: FAILED" in proc.stdout and "sha256" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_cut_download_of_unknown_length_is_kept_but_never_pinned(
    http_files, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No Content-Length, not chunked, no size in the manifest: the body just stops halfway.
    http_files.files["demo.onnx"] = Behaviour(BODY, framing="close", faults=[("cut", len(BODY) // 2)])
    spec = spec_for([http_files.url("demo.onnx")], sha="", size=0)
    with caplog.at_level(logging.WARNING, logger="realtime.catalog"):
        path = get(spec, tmp_path, trust_unverified=True)
    assert path.stat().st_size == len(BODY) // 2
    assert store.read_trusted(tmp_path) == {}
    assert not (tmp_path / ("demo.onnx" + store.SIDECAR_SUFFIX)).exists()
    assert "did NOT pin" in caplog.text and "models verify --trust-unverified demo" in caplog.text
    with pytest.raises(ModelError, match="no published sha256"):
        store.verify(spec, tmp_path)  # nothing vouches for it
    # Fetching again does not pin the half file that is there: it downloads again (cut again).
    http_files.files["demo.onnx"].faults.append(("cut", len(BODY) // 3))
    get(spec, tmp_path, trust_unverified=True)
    assert store.read_trusted(tmp_path) == {}
    assert path.stat().st_size == len(BODY) // 3


def test_a_cut_download_is_completed_from_the_manifest_size_then_pinned(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY, framing="close", faults=[("cut", 5000)])
    spec = spec_for([http_files.url("demo.onnx")], sha="")  # size known, hash not
    path = get(spec, tmp_path, trust_unverified=True)
    assert path.read_bytes() == BODY
    assert store.read_trusted(tmp_path)["demo.onnx"]["sha256"] == SHA
    assert [r for _, r in http_files.requests] == [None, "bytes=5000-"]


def test_a_cut_chunked_download_is_resumed_then_pinned(http_files, tmp_path: Path) -> None:
    http_files.files["demo.onnx"] = Behaviour(BODY, framing="chunked", faults=[("cut", 5000)])
    spec = spec_for([http_files.url("demo.onnx")], sha="", size=0)
    path = get(spec, tmp_path, trust_unverified=True)
    assert path.read_bytes() == BODY
    assert store.read_trusted(tmp_path)["demo.onnx"]["sha256"] == SHA
    assert len(http_files.requests) == 2 and http_files.requests[1][1] is not None


def test_an_untrusted_certificate_fails_at_once_with_the_fix(
    https_files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    https_files.files["demo.onnx"] = Behaviour(BODY)
    url = https_files.url("demo.onnx")
    slept: list[float] = []
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(DownloadError) as err:
        get(spec_for([url]), tmp_path, sleep=slept.append)
    msg = str(err.value)
    assert "certificate" in msg and "127.0.0.1" in msg and "SSL_CERT_FILE" in msg and "\n" not in msg
    assert slept == [] and https_files.connections == 1  # not retried as if transient
    assert not (tmp_path / "demo.onnx").exists()

    # The fix the message gives works: trust the server's CA, and the same download succeeds.
    monkeypatch.setenv("SSL_CERT_FILE", str(https_files.cert))
    assert get(spec_for([url]), tmp_path, policy=FAST).read_bytes() == BODY
