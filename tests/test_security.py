"""Security basics that hold for the whole package."""

import ast
from pathlib import Path

import realtime

PACKAGE = Path(realtime.__file__).resolve().parent
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "shelve", "marshal"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def test_nothing_in_the_package_can_load_a_pickle():
    offenders = []
    for py in PACKAGE.rglob("*.py"):
        tree = ast.parse(py.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            if names & UNSAFE_MODULES:
                offenders.append(f"{py.relative_to(PACKAGE)}:{node.lineno} imports {names & UNSAFE_MODULES}")
        for call in _calls(tree):
            f = call.func
            if isinstance(f, ast.Attribute) and f.attr == "load" and isinstance(f.value, ast.Name):
                if f.value.id == "torch":  # torch.load unpickles
                    offenders.append(f"{py.relative_to(PACKAGE)}:{call.lineno} torch.load")
            for kw in call.keywords:
                if kw.arg == "allow_pickle" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    offenders.append(f"{py.relative_to(PACKAGE)}:{call.lineno} allow_pickle")
    assert offenders == []


def test_manifests_only_download_over_https_and_never_pickled_checkpoints():
    from realtime.catalog.manifest import load_manifests

    for spec in load_manifests().values():
        assert all(u.startswith("https://") for u in spec.urls), spec.name
        assert not spec.file.endswith((".pth", ".pt", ".ckpt", ".pkl", ".bin")), spec.name
        if not spec.bundled:
            assert spec.file.endswith(".onnx"), spec.name


def test_the_mjpeg_preview_binds_to_loopback_by_default():
    from realtime.settings import OutputSettings
    from realtime.sinks.mjpeg import MjpegSink

    assert OutputSettings().mjpeg_host == "127.0.0.1"
    assert MjpegSink().host == "127.0.0.1"
