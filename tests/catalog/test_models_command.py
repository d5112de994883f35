"""`realtime models list | fetch | verify | path` through configure() and run()."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import io
from pathlib import Path

import pytest

from realtime.catalog.download import DownloadPolicy, fetch
from realtime.catalog.manifest import load_manifests
from realtime.commands import models as cmd
from realtime.errors import ConfigError, DownloadError
from tests.catalog.httpserver import Behaviour


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cmd.configure(p)
    return p.parse_args(list(argv))


def run(*argv: str, **kw) -> tuple[int, str]:
    out = io.StringIO()
    rc = cmd.run(parse(*argv), out=out, **kw)
    return rc, out.getvalue()


def test_path_and_env_override(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REALTIME_MODELS_DIR", str(tmp_path / "env"))
    assert run("path") == (0, f"{tmp_path / 'env'}\n")
    assert run("--models-dir", str(tmp_path), "path", "inswapper_128") == (
        0,
        f"{tmp_path / 'inswapper_128.onnx'}\n",
    )
    with pytest.raises(ConfigError, match="unknown model"):
        run("path", "nope")


def test_list_shows_every_model_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    rc, text = run("--models-dir", str(tmp_path), "list")
    assert rc == 0
    for name in ("inswapper_128", "hyperswap_1a_256", "scrfd_2.5g", "gfpgan_1.4", "face_landmark"):
        assert name in text
    assert "bundled" in text and "missing" in text and "no sha256" in text
    rc, text = run("--models-dir", str(tmp_path), "list", "--kind", "enhancer")
    assert "gfpgan_1.4" in text and "inswapper_128" not in text


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_list_fits_the_terminal_and_never_cuts_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    rc, text = run("--models-dir", str(tmp_path), "list")
    assert rc == 0 and max(len(line) for line in text.splitlines()) <= columns
    for name in load_manifests():
        assert name in text


def test_an_unknown_kind_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model kind 'bogus'"):
        run("--models-dir", str(tmp_path), "list", "--kind", "bogus")


def _local_specs(http_files, names: list[str]) -> dict:
    specs = dict(load_manifests())
    for n in names:
        body = f"synthetic {n}".encode() * 100
        http_files.files[specs[n].file] = Behaviour(body)
        specs[n] = dataclasses.replace(
            specs[n],
            urls=(http_files.url(specs[n].file),),
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
        )
    return specs


def test_fetch_pulls_requirements_first_then_verify(http_files, tmp_path: Path) -> None:
    specs = _local_specs(http_files, ["inswapper_128", "arcface_w600k_r50"])
    fetcher = functools.partial(
        fetch, allow_insecure_localhost=True, policy=DownloadPolicy(timeout=2, retries=1)
    )
    rc, text = run(
        "--models-dir", str(tmp_path), "fetch", "--no-progress", "inswapper_128", specs=specs, fetcher=fetcher
    )
    assert rc == 0
    lines = text.splitlines()
    assert lines[0].startswith("arcface_w600k_r50: ") and lines[1].startswith("inswapper_128: ")
    assert (tmp_path / "inswapper_128.onnx").exists() and (tmp_path / "arcface_w600k_r50.onnx").exists()
    rc, text = run("--models-dir", str(tmp_path), "verify", specs=specs)
    assert rc == 0 and text.count(": ok (published sha256") == 2
    (tmp_path / "inswapper_128.onnx").write_bytes(b"tampered" + b"\0" * (specs["inswapper_128"].size - 8))
    rc, text = run("--models-dir", str(tmp_path), "verify", "inswapper_128", specs=specs)
    assert rc == 1 and "FAILED" in text and "sha256" in text


def test_fetch_unverifiable_needs_trust(http_files, tmp_path: Path) -> None:
    specs = _local_specs(http_files, ["yoloface_8n"])
    specs["yoloface_8n"] = dataclasses.replace(specs["yoloface_8n"], sha256="", size=0)
    fetcher = functools.partial(fetch, allow_insecure_localhost=True)
    with pytest.raises(Exception, match="trust-unverified"):
        run(
            "--models-dir",
            str(tmp_path),
            "fetch",
            "--no-progress",
            "yoloface_8n",
            specs=specs,
            fetcher=fetcher,
        )
    rc, _ = run(
        "--models-dir", str(tmp_path), "fetch", "--no-progress", "--trust-unverified", "yoloface_8n",
        specs=specs, fetcher=fetcher,
    )  # fmt: skip
    assert rc == 0
    rc, text = run("--models-dir", str(tmp_path), "verify", "yoloface_8n", specs=specs)
    assert rc == 0 and "pinned locally" in text


def test_fetch_offline_error_is_actionable(tmp_path: Path) -> None:
    specs = dict(load_manifests())
    specs["xseg_1"] = dataclasses.replace(specs["xseg_1"], urls=("http://127.0.0.1:9/xseg_1.onnx",))
    fetcher = functools.partial(
        fetch, allow_insecure_localhost=True, policy=DownloadPolicy(timeout=1, retries=1, backoff=0.01)
    )
    with pytest.raises(DownloadError) as err:
        run("--models-dir", str(tmp_path), "fetch", "--no-progress", "xseg_1", specs=specs, fetcher=fetcher)
    assert f"put it at {tmp_path / 'xseg_1.onnx'}" in str(err.value)


def test_verify_with_nothing_downloaded(tmp_path: Path) -> None:
    assert run("--models-dir", str(tmp_path), "verify") == (0, f"no downloaded models in {tmp_path}\n")
    rc, text = run("--models-dir", str(tmp_path), "verify", "inswapper_128")
    assert rc == 1 and "realtime models fetch inswapper_128" in text
