"""The ``triton`` backend against a real tritonserver on 127.0.0.1, through the public API:
the swap through the live pipeline equals the local model's to within 1 grey level, one
session is safe from several threads, four streams share one server without cross-talk, the
stream survives the server being killed and restarted, and start-up failures are one line."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime.errors import RemoteError
from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer
from realtime.images import load_image
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.triton import RemoteLost, RemoteTimeout
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.remote.guard import LOST, OK, RemoteGuard
from realtime.sources.synthetic import SyntheticSource
from realtime.swap.neural.swapper import NeuralSwapper
from tests.pipeline.fakes import RecordingSink
from tests.remote.conftest import Served, start_server
from tools.triton_local import TritonServer, free_port

pytestmark = pytest.mark.triton

ASSETS = Path(__file__).resolve().parents[2] / "realtime" / "assets" / "faces"
SIZE = (640, 360)


class KeepImages(RecordingSink):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[np.ndarray, tuple, float]] = []
        self.kept: list = []

    def write(self, frame):  # type: ignore[no-untyped-def]
        super().write(frame)
        self.kept.append(frame)
        self.images.append((frame.image.copy(), frame.faces, time.monotonic()))


def local_result(local: NeuralSwapper, frame, original: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """What the local model makes of the original frame with the same faces (the face
    analysis jitters from run to run; the swap must not)."""
    return local(frame.with_image(original.astype(np.uint8))).image


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(AnalysisSettings())


def swapper(served: Served, analyzer: FaceAnalyzer, remote: str | None, photo: str = "astronaut.jpg",
            name: str = "inswapper_128", budget_ms: float = 3000.0) -> NeuralSwapper:  # fmt: skip
    img = load_image(ASSETS / photo)
    face = analyzer.analyze_image(img)[0]
    access = ModelAccess(models_dir=served.models, specs=served.specs, remote=remote)
    access = replace(access, remote_budget_ms=budget_ms)
    return NeuralSwapper.load(access, name, img, face.kps)


class Tint:
    """Makes a stream's frames its own: every pixel shifted by ``shift`` grey levels."""

    name = "tint"

    def __init__(self, shift: int) -> None:
        self.shift = shift

    def image(self, img: np.ndarray) -> np.ndarray:
        return np.clip(img.astype(int) + self.shift, 0, 255).astype(np.uint8)

    def __call__(self, frame):  # type: ignore[no-untyped-def]
        return frame.with_image(self.image(frame.image))


def run_frames(
    swap: Any, n: int, seed: int = 3, live: bool = False, duration: float = 60.0, tint: int = 0
) -> KeepImages:
    source = SyntheticSource(
        width=SIZE[0], height=SIZE[1], fps=30, live=live, motion=0.0, noise=0.0, seed=seed
    )
    sink = KeepImages()
    analysis = [Tint(tint), FaceAnalyzer(AnalysisSettings())]
    processors = [*analysis, swap]  # a fresh tracker for each run
    stages = [analysis, [swap]]
    Pipeline(source, processors, [sink], PipelineConfig(live=live), stages=stages).run(
        max_frames=n, duration=duration
    )
    return sink


def original_frame(seed: int = 3) -> np.ndarray:
    ref = SyntheticSource(width=SIZE[0], height=SIZE[1], fps=30, live=False, motion=0.0, noise=0.0, seed=seed)
    ref.open()
    return ref.read().image.copy()


@pytest.mark.parametrize("url_of", ["grpc_url", "http_url"])
def test_remote_swap_changes_the_face_only_and_matches_the_local_model(
    served: Served, triton: TritonServer, analyzer: FaceAnalyzer, url_of: str
):
    remote = swapper(served, analyzer, getattr(triton, url_of))
    assert remote.model.session.provider == "triton"
    local = swapper(served, analyzer, None)
    assert local.model.session.provider != "triton"
    sink = run_frames(remote, 4)
    original = original_frame().astype(int)
    for (image, faces, _), frame in zip(sink.images, sink.kept, strict=True):
        ref = local_result(local, frame, original)
        assert len(faces) == 1
        x1, y1, x2, y2 = faces[0].box.astype(int)
        diff = np.abs(image.astype(int) - original).sum(axis=2)
        assert diff[y1:y2, x1:x2].mean() > 10  # the face changed
        outside = diff.copy()
        outside[max(0, y1 - 40) : y2 + 40, max(0, x1 - 40) : x2 + 40] = 0
        assert outside.max() == 0  # nothing else did
        assert np.abs(image.astype(int) - ref.astype(int)).max() <= 1  # as the local model
    session = remote.model.session
    assert session.counts["ok"] >= 4 and session.counts["bytes_up"] > 0


def test_one_session_is_safe_from_several_threads(served: Served, triton: TritonServer):
    access = ModelAccess(models_dir=served.models, specs=served.specs)
    remote = replace(access, remote=triton.grpc_url, remote_budget_ms=5000)
    _spec, _path, session = open_model("arcface_w600k_r50", remote)
    _s, _p, local = open_model("arcface_w600k_r50", access)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (112, 112, 3), np.uint8) for _ in range(8)]
    from realtime.faces.align import crop_to_tensor

    xs = [crop_to_tensor(c, (127.5,) * 3, (127.5,) * 3) for c in crops]
    want = [local.run({"input": x})["embedding"] for x in xs]
    errors: list[str] = []

    def worker(k: int) -> None:
        for rep in range(15):
            i = (k + rep) % len(xs)
            got = session.run({"input": xs[i]})["embedding"]
            if not np.allclose(got, want[i], atol=1e-4):
                errors.append(f"thread {k} call {rep} got another crop's embedding")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_four_streams_share_one_server_without_cross_talk(
    served: Served, triton: TritonServer, analyzer: FaceAnalyzer
):
    """Four pipelines, each its own frames (tint) and swapper, swap at once through one
    server; each stream's frames equal what the local model makes of that stream's frames."""
    names = ["inswapper_128", "inswapper_128", "hyperswap_1a_256", "hyperswap_1a_256"]
    tints = [0, 40, -30, 25]
    remotes = [swapper(served, analyzer, triton.grpc_url, name=n) for n in names]
    locals_ = [swapper(served, analyzer, None, name=n) for n in names]
    originals = [Tint(t).image(original_frame()) for t in tints]
    results: dict[int, KeepImages] = {}

    def stream(k: int) -> None:
        results[k] = run_frames(remotes[k], 6, tint=tints[k])

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert len(results[k].images) >= 6
        for (image, _faces, _t), frame in zip(results[k].images, results[k].kept, strict=True):
            want = local_result(locals_[k], frame, originals[k])
            assert np.abs(image.astype(int) - want.astype(int)).max() <= 1, f"stream {k}"
    assert sum(r.model.session.counts["ok"] for r in remotes) >= 24  # all went remote


@pytest.mark.parametrize("fault", ["killed", "stalled"])
def test_server_killed_or_stalled_the_stream_never_stops_and_swapping_resumes(
    served: Served, own_triton: TritonServer, analyzer: FaceAnalyzer, fault: str
):
    """A live stream through a server that is SIGKILLed and restarted on the same ports, or
    SIGSTOPped and continued: no gap of a second in the output, the frames meanwhile pass
    through unswapped, and swapping resumes by itself."""
    report: dict = {}
    guarded = RemoteGuard(swapper(served, analyzer, own_triton.grpc_url, budget_ms=100), report=report)
    states: list[tuple[float, str]] = []

    def chaos() -> None:
        time.sleep(2.0)
        own_triton.kill() if fault == "killed" else own_triton.pause()
        states.append((time.monotonic(), "down"))
        time.sleep(2.5)
        states.append((time.monotonic(), "restarting"))
        own_triton.start(same_ports=True) if fault == "killed" else own_triton.resume()
        states.append((time.monotonic(), "back"))

    t = threading.Thread(target=chaos)
    t.start()
    sink = run_frames(guarded, n=10_000, live=True, duration=13.0)
    t.join()
    original = original_frame().astype(int)
    down, restarting, back = (t for t, _what in states)
    times = [ts for _img, _f, ts in sink.images]
    assert max(np.diff(times)) < 1.0, "the stream stalled"
    swapped = [np.abs(img.astype(int) - original).max() > 8 for img, _f, _ts in sink.images]
    during = [s for s, ts in zip(swapped, times, strict=True) if down + 0.6 < ts < restarting]
    after = [s for s, ts in zip(swapped, times, strict=True) if ts > back + 2.0]
    assert during and not any(during), "frames while the server was down passed through unswapped"
    assert after and all(after[-5:]), "swapping resumed"
    assert report["remote"] == OK and report["remote_lost_frames"] > 0


def test_stalled_server_calls_are_abandoned_within_the_budget(
    served: Served, own_triton: TritonServer, analyzer: FaceAnalyzer
):
    sw = swapper(served, analyzer, own_triton.grpc_url, budget_ms=200)
    session = sw.model.session
    x = np.zeros((1, 3, 128, 128), np.float32)
    session.run({"target": x, "source": sw.source})
    own_triton.pause()
    try:
        t0 = time.monotonic()
        with pytest.raises((RemoteTimeout, RemoteLost)):
            session.run({"target": x, "source": sw.source})
        assert time.monotonic() - t0 < 1.0
    finally:
        own_triton.resume()
    deadline = time.monotonic() + 10
    while True:
        try:
            session.run({"target": x, "source": sw.source})
            break
        except RemoteError:
            assert time.monotonic() < deadline, "never recovered after the stall"
            time.sleep(0.2)
    assert session.status() == "remote ok"


def test_start_failures_are_one_typed_line(served: Served, triton: TritonServer):
    def open_(name: str, url: str) -> None:
        access = ModelAccess(models_dir=served.models, specs=served.specs, remote=url, remote_budget_ms=100)
        open_model(name, access)

    with pytest.raises(RemoteError, match=r"not reachable.*start it"):
        open_("hyperswap_1a_256", f"grpc://127.0.0.1:{free_port()}")
    with pytest.raises(RemoteError, match=r"'gfpgan_1.4' is not ready.*it serves: .*hyperswap_1a_256"):
        open_("gfpgan_1.4", triton.grpc_url)
    with pytest.raises(RemoteError, match=r"does not match the manifest: input 'target' is UINT8 \[-1, 128"):
        open_("simswap_256", triton.grpc_url)
    with pytest.raises(RemoteError, match=r"TLS handshake .* failed"):
        open_("hyperswap_1a_256", triton.grpc_url.replace("grpc://", "grpcs://"))


def test_lost_server_falls_back_to_the_mesh_swapper_when_configured(
    served: Served, own_triton: TritonServer, analyzer: FaceAnalyzer
):
    from realtime.swap.mesh.swapper import create_mesh_swapper

    report: dict = {}
    mesh = create_mesh_swapper([ASSETS / "astronaut.jpg"], analyzer=analyzer)
    guarded = RemoteGuard(swapper(served, analyzer, own_triton.grpc_url), fallback=mesh, report=report)
    own_triton.kill()
    sink = run_frames(guarded, 5)
    plain = run_frames(RemoteGuard(swapper(served, analyzer, None)), 1).images[0][0]
    original = original_frame().astype(int)
    for image, faces, _t in sink.images:
        x1, y1, x2, y2 = faces[0].box.astype(int)
        diff = np.abs(image.astype(int) - original).sum(axis=2)
        assert diff[y1:y2, x1:x2].mean() > 3  # the mesh swapper changed the face
        assert np.abs(image.astype(int) - plain.astype(int)).max() > 8  # not the neural result
    assert report["remote"] == LOST and report["remote_lost_frames"] >= 5


def test_remote_enhancer_matches_the_local_one(served: Served, tmp_path: Path):
    """The enhancer (512² crops both ways) through its own server equals the local model."""
    from realtime.enhance.enhancer import FaceEnhancer
    from realtime.remote.export import export_repository
    from tests.neural.synthetic_models import write_synthetic_models
    from tests.remote.conftest import PY_CPU

    specs = write_synthetic_models(tmp_path / "models", ["gfpgan_1.4"])
    export_repository(
        ["gfpgan_1.4"], tmp_path / "repo", options=PY_CPU, models_dir=tmp_path / "models", specs=specs
    )
    server = start_server(tmp_path / "repo", tmp_path / "server")
    try:
        access = ModelAccess(models_dir=tmp_path / "models", specs=specs)
        served_by = replace(access, remote=server.http_url, remote_budget_ms=5000)
        remote = FaceEnhancer.load(served_by, "gfpgan_1.4")
        local = FaceEnhancer.load(access, "gfpgan_1.4")
        assert remote.session.provider == "triton"
        sink = run_frames(remote, 3)
        original = original_frame()
        for (image, _faces, _t), frame in zip(sink.images, sink.kept, strict=True):
            assert np.abs(image.astype(int) - original.astype(int)).max() > 50  # enhanced (negated)
            want = local_result(local, frame, original)
            assert np.abs(image.astype(int) - want.astype(int)).max() <= 1
    finally:
        server.stop()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path / "tls"
    d.mkdir()
    for ca in ("ca", "other_ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / f"{ca}.key"),
                 "-out", str(d / f"{ca}.crt"), "-days", "2", "-subj", f"/CN={ca}")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "server.key"),
             "-out", str(d / "server.csr"), "-subj", "/CN=127.0.0.1")  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"), "-CAkey",
             str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "server.crt"), "-days", "2",
             "-extfile", str(d / "ext.cnf"))  # fmt: skip
    return {n: d / f"{n}.crt" for n in ("ca", "other_ca", "server")} | {"key": d / "server.key"}


def test_grpc_over_tls_works_with_the_ca_and_fails_in_one_line_without(
    served: Served, tls_files: dict[str, Path], tmp_path: Path
):
    flags = ("--grpc-use-ssl=true", f"--grpc-server-cert={tls_files['server']}",
             f"--grpc-server-key={tls_files['key']}")  # fmt: skip
    server = start_server(served.repo, tmp_path / "server", flags)
    try:
        base = f"grpcs://127.0.0.1:{server.grpc_port}"

        def open_(url: str) -> Any:
            access = ModelAccess(models_dir=served.models, specs=served.specs, remote=url)
            access = replace(access, remote_budget_ms=5000)
            return open_model("arcface_w600k_r50", access)[2]

        session = open_(f"{base}?ca={tls_files['ca']}")
        x = np.zeros((1, 3, 112, 112), np.float32)
        assert session.run({"input": x})["embedding"].shape == (1, 512)
        with pytest.raises(RemoteError, match=r"TLS handshake .* failed.*\?ca="):
            open_(f"{base}?ca={tls_files['other_ca']}")
        with pytest.raises(RemoteError, match=r"closed the connection.*use grpcs://"):
            open_(f"grpc://127.0.0.1:{server.grpc_port}")
        with pytest.raises(RemoteError, match=r"TLS file .*missing.pem .* does not exist"):
            open_(f"{base}?ca={tmp_path / 'missing.pem'}")
    finally:
        server.stop()
