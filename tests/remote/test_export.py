"""``realtime triton export``: the configs parse with Triton's own protobuf, the wrapper
computes what the local model computes on uint8 crops, and the CLI refuses bad requests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from realtime.faces.align import crop_to_tensor, tensor_to_crop
from realtime.inference.triton_wire import contract
from realtime.remote.export import ExportOptions, export_repository
from tests.neural.synthetic_models import write_synthetic_models

NAMES = ["inswapper_128", "hyperswap_1a_256", "gfpgan_1.4", "xseg_1", "crossface_simswap"]


def parse(path: Path) -> model_config_pb2.ModelConfig:
    cfg = model_config_pb2.ModelConfig()
    text_format.Parse(path.read_text(), cfg)  # raises on any field Triton does not define
    return cfg


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("models")
    return folder, write_synthetic_models(folder, [*NAMES, "arcface_w600k_r50"])


@pytest.mark.parametrize("platform", ["onnxruntime", "tensorrt", "python"])
def test_configs_parse_with_tritons_model_config_proto(synthetic, tmp_path: Path, platform: str):
    models, specs = synthetic
    opts = ExportOptions(platform=platform, max_batch_size=4, queue_delay_us=300, instances=2)
    written = export_repository(["inswapper_128"], tmp_path, options=opts, models_dir=models, specs=specs)
    assert [p.name for p in written] == ["inswapper_128", "arcface_w600k_r50"]
    cfg = parse(tmp_path / "inswapper_128" / "config.pbtxt")
    assert cfg.name == "inswapper_128" and cfg.max_batch_size == 4
    if platform == "python":
        assert cfg.backend == "python" and (tmp_path / "inswapper_128" / "1" / "model.py").is_file()
    else:
        assert cfg.platform == {"onnxruntime": "onnxruntime_onnx", "tensorrt": "tensorrt_plan"}[platform]
    ins = {t.name: t for t in cfg.input}
    assert ins["target"].data_type == model_config_pb2.TYPE_UINT8 and list(ins["target"].dims) == [
        128,
        128,
        3,
    ]
    assert ins["source"].data_type == model_config_pb2.TYPE_FP32 and list(ins["source"].dims) == [512]
    (out,) = cfg.output
    assert out.name == "output" and out.data_type == model_config_pb2.TYPE_UINT8
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 300
    assert list(cfg.dynamic_batching.preferred_batch_size) == [2, 4]
    (group,) = cfg.instance_group
    assert group.count == 2 and group.kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    rec = parse(tmp_path / "arcface_w600k_r50" / "config.pbtxt")
    assert [(o.name, o.data_type, list(o.dims)) for o in rec.output] == [
        ("embedding", model_config_pb2.TYPE_FP32, [512])
    ]
    if platform == "tensorrt":
        assert (
            "trtexec --onnx=model.onnx --saveEngine=1/model.plan"
            in (tmp_path / "inswapper_128" / "BUILD.txt").read_text()
        )
    else:
        assert (tmp_path / "inswapper_128" / "1" / "model.onnx").is_file()


def test_unbatched_copy_has_no_dynamic_batching(synthetic, tmp_path: Path):
    models, specs = synthetic
    export_repository(["crossface_simswap"], tmp_path, models_dir=models, specs=specs, unbatched_copies=True)
    assert parse(tmp_path / "crossface_simswap" / "config.pbtxt").HasField("dynamic_batching")
    flat = parse(tmp_path / "crossface_simswap_nobatch" / "config.pbtxt")
    assert flat.name == "crossface_simswap_nobatch" and not flat.HasField("dynamic_batching")


@pytest.mark.parametrize("name", NAMES)
def test_wrapper_matches_the_local_model_on_a_batch(synthetic, tmp_path: Path, name: str):
    """The exported graph, fed a batch of 3 uint8 crops, gives per item what the local model
    gives through crop_to_tensor / tensor_to_crop (within 1 grey level)."""
    models, specs = synthetic
    spec = specs[name]
    export_repository([name], tmp_path, models_dir=models, specs=specs, with_requirements=False)
    wrapped = ort.InferenceSession(str(tmp_path / name / "1" / "model.onnx"))
    local = ort.InferenceSession(str(models / spec.file))
    c = contract(spec)
    rng = np.random.default_rng(5)
    n = 3
    feeds = {
        t.name: (
            rng.integers(0, 256, (n, *t.dims), dtype=np.uint8)
            if t.image
            else rng.standard_normal((n, *t.dims)).astype(t.dtype)
        )
        for t in c.inputs
    }
    outs = dict(zip([t.name for t in c.outputs], wrapped.run(None, feeds), strict=True))
    for i in range(n):
        lfeed = {
            t.name: (
                crop_to_tensor(feeds[t.name][i], spec.mean, spec.std, spec.color, t.layout)
                if t.image
                else feeds[t.name][i : i + 1]
            )
            for t in c.inputs
        }
        for t, ref in zip(c.outputs, local.run(None, lfeed), strict=True):
            got = outs[t.name][i]
            if t.image:
                want = tensor_to_crop(ref, c.out_mean, c.out_std, spec.color)
                assert got.dtype == np.uint8 and np.abs(want.astype(int) - got.astype(int)).max() <= 1
            else:
                np.testing.assert_allclose(got, ref[0], rtol=1e-4, atol=1e-4)


def test_uint8_crops_cost_a_quarter_of_float32():
    from realtime.catalog.manifest import load_manifests

    up, down = contract(load_manifests()["inswapper_128"]).bytes_per_item()
    assert (up, down) == (128 * 128 * 3 + 512 * 4, 128 * 128 * 3)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_export_without_the_model_file_says_how_to_fetch_it(tmp_path: Path):
    proc = run_cli("triton", "export", "hyperswap_1a_256", "--out", str(tmp_path / "repo"),
                   "--models-dir", str(tmp_path / "empty"))  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "realtime models fetch" in lines[0], proc.stderr


def test_cli_export_refuses_an_unknown_model_and_an_existing_folder(tmp_path: Path):
    proc = run_cli("triton", "export", "nosuchmodel", "--out", str(tmp_path))
    assert proc.returncode == 2 and "unknown model(s) nosuchmodel" in proc.stderr
    (tmp_path / "arcface_w600k_r50").mkdir()
    proc = run_cli("triton", "export", "arcface_w600k_r50", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--force" in proc.stderr


def test_wrapper_of_an_opset_11_model(synthetic, tmp_path: Path):
    """Older exports (opset 11: axes as attributes) get a wrapper of their own opset."""
    import onnx
    from onnx import TensorProto, helper

    from realtime.remote.wrapper import build_wrapper

    _models, specs = synthetic
    spec = specs["gfpgan_1.4"]
    graph = helper.make_graph(
        [helper.make_node("Neg", ["input"], ["output"])],
        "old",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 512, 512])],
    )
    old = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    old.ir_version = 6
    path = tmp_path / "old.onnx"
    onnx.save(old, str(path))
    wrapped = build_wrapper(path, contract(spec))
    onnx.checker.check_model(wrapped)
    assert max(o.version for o in wrapped.opset_import if o.domain in ("", "ai.onnx")) == 11
    crop = np.random.default_rng(1).integers(0, 256, (2, 512, 512, 3), dtype=np.uint8)
    sess = ort.InferenceSession(wrapped.SerializeToString())
    (out,) = sess.run(None, {"input": crop})
    assert np.abs(out.astype(int) - (255 - crop.astype(int))).max() <= 1  # gfpgan stand-in: -x
