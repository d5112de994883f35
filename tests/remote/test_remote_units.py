"""The pieces of ``--remote`` that need no server: URLs, the metadata check, the wire codec."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.catalog.manifest import load_manifests
from realtime.errors import ConfigError
from realtime.faces.align import crop_to_tensor
from realtime.inference.triton import check_metadata
from realtime.inference.triton_url import parse_remote
from realtime.inference.triton_wire import contract, encode_image


def test_remote_urls():
    t = parse_remote("gpu-box")
    assert (t.protocol, t.host, t.port, t.tls) == ("grpc", "gpu-box", 8001, False)
    t = parse_remote("grpcs://gpu-box:9001?ca=ca.pem&cert=c.pem&key=k.pem")
    assert (t.protocol, t.port, t.tls, t.ca, t.cert, t.key) == (
        "grpc",
        9001,
        True,
        "ca.pem",
        "c.pem",
        "k.pem",
    )
    assert str(parse_remote("http://10.0.0.2")) == "http://10.0.0.2:8000"
    assert parse_remote("https://box").tls
    for bad in ("ftp://box", "grpc://box:99999", "grpc://box/models", "grpc://box?ca=x.pem",
                "grpcs://box?cert=c.pem", "grpcs://box?token=1", "grpc://:8001"):  # fmt: skip
        with pytest.raises(ConfigError):
            parse_remote(bad)


def meta(target_shape: list[str], dtype: str = "UINT8") -> dict:
    return {
        "inputs": [
            {"name": "target", "datatype": dtype, "shape": target_shape},
            {"name": "source", "datatype": "FP32", "shape": ["-1", "512"]},
        ],
        "outputs": [{"name": "output", "datatype": "UINT8", "shape": ["-1", "128", "128", "3"]}],
    }


def test_metadata_check_names_the_first_difference():
    c = contract(load_manifests()["inswapper_128"])
    assert check_metadata(c, meta(["-1", "128", "128", "3"])) is None
    assert check_metadata(c, meta(["-1", "3", "128", "128"], "FP32")) == (
        "input 'target' is FP32 [-1, 3, 128, 128], expected UINT8 [-1, 128, 128, 3]"
    )
    renamed = meta(["-1", "128", "128", "3"])
    renamed["outputs"][0]["name"] = "out"
    assert check_metadata(c, renamed) == "outputs are ['out'], expected ['output']"


@pytest.mark.parametrize("name", ["inswapper_128", "gfpgan_1.4", "xseg_1", "bisenet_resnet_34"])
def test_encoding_recovers_the_exact_crop(name: str):
    spec = load_manifests()[name]
    c = contract(spec)
    (t,) = [w for w in c.inputs if w.image]
    crop = np.random.default_rng(2).integers(0, 256, t.dims, dtype=np.uint8)
    x = crop_to_tensor(crop, spec.mean, spec.std, spec.color, t.layout)
    assert np.array_equal(encode_image(x, c, t.layout)[0], crop)


def test_the_status_line_says_remote_lost():
    from realtime.console import status_line as _status_line

    base = {
        "fps_in": 30.0,
        "fps_out": 30.0,
        "latency_ms": {"p50": 20.0, "p95": 30.0},
        "swapper": "inswapper_128",
    }
    assert "remote lost" in _status_line({**base, "remote": "remote lost"})
    assert "remote" not in _status_line(base)
