"""The model cache: where files live, cheap presence checks, and cached verification."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from realtime.catalog import store
from realtime.catalog.manifest import KINDS, ModelSpec, load_manifests, load_templates
from realtime.errors import ConfigError, ModelError

BODY = b"onnx-ish bytes " * 1000


def spec(sha: str | None = None, size: int | None = None) -> ModelSpec:
    return ModelSpec(
        name="demo",
        kind="detector",
        file="demo.onnx",
        sha256=hashlib.sha256(BODY).hexdigest() if sha is None else sha,
        size=len(BODY) if size is None else size,
        license="test",
        urls=("https://example.com/demo.onnx",),
        hash_note="test",
    )


def test_models_dir_precedence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    default = store.resolve_models_dir()
    assert default.parts[-2:] == ("realtime", "models") or default.name == "models"
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path / "env"))
    assert store.resolve_models_dir() == tmp_path / "env"
    assert store.resolve_models_dir(tmp_path / "flag") == tmp_path / "flag"  # the flag wins


def test_is_present_checks_size(tmp_path: Path) -> None:
    s = spec()
    assert not store.is_present(s, tmp_path)
    (tmp_path / "demo.onnx").write_bytes(BODY[:-1])
    assert not store.is_present(s, tmp_path)
    (tmp_path / "demo.onnx").write_bytes(BODY)
    assert store.is_present(s, tmp_path)


def test_verify_hashes_once_then_uses_sidecar(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "demo.onnx").write_bytes(BODY)
    calls: list[Path] = []
    real = store.sha256_file
    monkeypatch.setattr(store, "sha256_file", lambda p: calls.append(p) or real(p))
    assert store.verify(spec(), tmp_path).sha256 == hashlib.sha256(BODY).hexdigest()
    assert store.verify(spec(), tmp_path).path == tmp_path / "demo.onnx"
    assert len(calls) == 1  # the second verification was a stat
    # Same size, new content and mtime: the sidecar no longer applies, and the check fails.
    p = tmp_path / "demo.onnx"
    p.write_bytes(BODY.replace(b"o", b"0"))
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ModelError, match="fails its sha256 check"):
        store.verify(spec(), tmp_path)
    assert len(calls) == 2


def test_verify_missing_gives_fetch_command_and_manual_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        store.verify(spec(), tmp_path)
    msg = str(err.value)
    assert "realtime models fetch demo" in msg
    assert f"put it at {tmp_path / 'demo.onnx'}" in msg and "https://example.com/demo.onnx" in msg


def test_wrong_size_is_reported_before_hashing(tmp_path: Path) -> None:
    (tmp_path / "demo.onnx").write_bytes(BODY + b"!")
    with pytest.raises(ModelError, match="expected"):
        store.verify(spec(), tmp_path)


def test_unverifiable_file_is_refused_until_trusted(tmp_path: Path) -> None:
    s = spec(sha="", size=0)
    (tmp_path / "demo.onnx").write_bytes(BODY)
    with pytest.raises(ModelError, match="no published sha256"):
        store.verify(s, tmp_path)
    v = store.verify(s, tmp_path, trust_unverified=True)
    assert v.pinned and v.sha256 == hashlib.sha256(BODY).hexdigest()
    assert store.verify(s, tmp_path).pinned


def test_ensure_unknown_name() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        store.ensure("no_such_model")


# --- the shipped manifests -------------------------------------------------------------


REQUIRED = {
    "scrfd_2.5g",
    "retinaface_10g",
    "yoloface_8n",
    "2dfan4",
    "arcface_w600k_r50",
    "inswapper_128",
    "inswapper_128_fp16",
    "hyperswap_1a_256",
    "simswap_256",
    "gfpgan_1.4",
    "xseg_1",
    "bisenet_resnet_34",
}


def test_manifests_cover_the_required_models_honestly() -> None:
    specs = load_manifests()
    assert set(specs) >= REQUIRED
    for name in REQUIRED:
        s = specs[name]
        assert s.kind in KINDS and not s.bundled
        assert s.file.endswith(".onnx")
        assert s.urls and all(u.startswith("https://") for u in s.urls)
        assert s.license and s.inputs and s.outputs
        assert len(s.sha256) in (0, 64)
        if not s.sha256:
            assert "no public sha256" in s.hash_note or "no complete public sha256" in s.hash_note
        for dep in s.requires:
            assert dep in specs, f"{name} requires unknown {dep}"
    # Every swapper declares what feeds its `source` input and how to denormalise its output.
    for s in specs.values():
        if s.kind == "swapper":
            assert s.extra["source"] in ("emap", "normed", "converter")
            assert {"output_mean", "output_std", "rank"} <= set(s.extra)
            assert s.template in load_templates()


def test_templates_match_insightface_arcface_dst() -> None:
    """arcface_112_v2 = arcface_dst / 112 and arcface_128 = (arcface_dst + [8, 0]) / 128."""
    dst = np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
    )
    t = {k: np.array(v) for k, v in load_templates().items()}
    np.testing.assert_allclose(t["arcface_112_v2"], dst / 112, atol=5e-8)
    np.testing.assert_allclose(t["arcface_128"], (dst + np.array([8.0, 0.0])) / 128, atol=5e-8)
    for pts in t.values():  # left eye left of right eye, eyes above nose above mouth
        assert pts[0, 0] < pts[1, 0] and pts[3, 0] < pts[4, 0]
        assert pts[:2, 1].max() < pts[2, 1] < pts[3:, 1].min()


def test_manifest_rejects_pickles_and_bad_hashes(tmp_path: Path) -> None:
    base = 'name = "x"\nkind = "enhancer"\nsize = 1\nlicense = "l"\nurls = ["https://e.com/x"]\n'
    cases = {
        'file = "x.pth"\nsha256 = ""\nhash_note = "n"\n': "pickled",
        'file = "x.safetensors"\nsha256 = ""\nhash_note = "n"\n': "must be an .onnx",
        'file = "x.onnx"\nsha256 = "ABC"\n': "64 lowercase hex",
        'file = "x.onnx"\nsha256 = ""\n': "no hash_note",
    }
    for body, msg in cases.items():
        (tmp_path / "m.toml").write_text("[[model]]\n" + base + body)
        with pytest.raises(ConfigError, match=msg):
            load_manifests(tmp_path)
