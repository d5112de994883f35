"""``--remote`` through the real CLI (a subprocess) against a real tritonserver: a file job
swaps the face and nothing else with no model file on the laptop; a live run survives the
server being killed and restarted, and a stalled server; start-up failures are one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime import app
from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer
from tests.jobs.clips import make_clip, probe
from tests.remote.conftest import Served
from tools.triton_local import TritonServer, free_port

pytestmark = pytest.mark.triton

FACE = str(Path(app.ASSETS) / "faces" / "astronaut.jpg")
SWAPPER = "hyperswap_1a_256"  # needs nothing on the laptop (inswapper reads its emap locally)


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", *args], capture_output=True, text=True, timeout=timeout
    )


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("realtime: error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_file_job_swaps_the_face_and_nothing_else_with_no_local_model(
    served: Served, triton: TritonServer, tmp_path: Path
):
    clip = make_clip(tmp_path / "in.mp4", frames=20, audio=False)
    empty = tmp_path / "no-models"
    common = ["--input", str(clip), "--face", FACE, "--crf", "0", "--models-dir", str(empty)]
    stats = tmp_path / "stats.json"
    proc = cli(*common, "--swapper", SWAPPER, "--remote", triton.grpc_url, "--output",
               str(tmp_path / "remote.mp4"), "--stats-json", str(stats))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plain = cli(*common, "--swapper", "none", "--output", str(tmp_path / "plain.mp4"))
    assert plain.returncode == 0, plain.stderr
    assert not empty.exists() or not any(empty.iterdir())  # nothing was downloaded
    s = json.loads(stats.read_text())
    assert s["frames"] == 20 and s["remote"] == "remote ok" and s["remote_ok"] >= 20
    got, ref = probe(tmp_path / "remote.mp4")["images"], probe(tmp_path / "plain.mp4")["images"]
    analyzer = FaceAnalyzer(AnalysisSettings())
    for image, base in zip(got, ref, strict=True):
        (face,) = analyzer.analyze_image(base)
        x1, y1, x2, y2 = face.box.astype(int)
        diff = np.abs(image.astype(int) - base.astype(int)).sum(axis=2)
        assert diff[y1:y2, x1:x2].mean() > 10  # the face changed
        diff[max(0, y1 - 40) : y2 + 40, max(0, x1 - 40) : x2 + 40] = 0
        assert diff.max() <= 3  # the rest is the plain run's, to the encoder's rounding


def wait_for_inferences(server: TritonServer, n: int, timeout: float = 90) -> int:
    """Wait until the server has done ``n`` swaps in all; the count it reached. A server just
    woken from a stall may reset this client's own connection once: asked again."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stats = client.get_inference_statistics(SWAPPER, as_json=True)
        except InferenceServerException:
            time.sleep(0.2)
            continue
        done = int(stats["model_stats"][0]["inference_stats"]["success"].get("count", 0))
        if done >= n:
            return done
        time.sleep(0.2)
    raise AssertionError(f"the live run did not reach {n} remote swaps in {timeout} s")


def live_run(server: TritonServer, tmp_path: Path, duration: float) -> subprocess.Popen[str]:
    args = ["--demo", "--sink", "null", "--swapper", SWAPPER, "--remote", server.grpc_url,
            "--models-dir", str(tmp_path / "no-models"), "--duration", str(duration),
            "--stats-json", str(tmp_path / "stats.json"), "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "realtime", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], tmp_path: Path) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads((tmp_path / "stats.json").read_text()), " ".join((out + err).split())  # the log


def test_live_run_survives_the_server_killed_and_restarted(own_triton: TritonServer, tmp_path: Path):
    proc = live_run(own_triton, tmp_path, duration=14)
    wait_for_inferences(own_triton, 10)
    started = time.monotonic()
    own_triton.kill()
    time.sleep(3.0)
    own_triton.start(same_ports=True)
    wait_for_inferences(own_triton, 10)  # the same run swaps through the new server
    stats, err = finish(proc, tmp_path)
    assert "remote lost" in err and "remote back" in err, (err, stats)
    assert stats["remote"] == "remote ok" and stats["remote_lost_frames"] > 0
    # The stream never stopped: while the server was down the frames kept flowing.
    assert stats["processed"] >= 0.5 * stats["elapsed_s"] * 30, stats
    assert time.monotonic() - started < 60


def test_live_run_survives_a_stalled_server(own_triton: TritonServer, tmp_path: Path):
    # Long enough that swapping comes back well before the end on a busy CI machine: the
    # test waits for it below, so a quiet machine does not pay for the margin twice.
    proc = live_run(own_triton, tmp_path, duration=30)
    before = wait_for_inferences(own_triton, 10)
    own_triton.pause()
    time.sleep(3.0)
    own_triton.resume()
    wait_for_inferences(own_triton, before + 10, timeout=20)  # the same run swaps again
    stats, _err = finish(proc, tmp_path)
    assert stats["remote_abandoned"] + stats["remote_lost_frames"] > 0  # calls were given up
    assert stats["remote"] == "remote ok"  # and swapping came back
    assert stats["processed"] >= 0.5 * stats["elapsed_s"] * 30, stats


def test_server_down_at_start_is_one_line(tmp_path: Path):
    url = f"grpc://127.0.0.1:{free_port()}"
    proc = cli("--demo", "--sink", "null", "--duration", "1", "--swapper", SWAPPER, "--remote", url,
               "--models-dir", str(tmp_path))  # fmt: skip
    one_line_error(proc, "not reachable", url, "docs/remote.md")


def test_server_down_is_named_before_a_local_file_the_swapper_also_needs(tmp_path: Path):
    """inswapper reads its emap from the local file even with --remote: with the server down,
    the error names the server (the likelier fault), not a 555 MB download."""
    url = f"grpc://127.0.0.1:{free_port()}"
    proc = cli("--demo", "--sink", "null", "--duration", "1", "--swapper", "inswapper_128", "--remote", url,
               "--models-dir", str(tmp_path))  # fmt: skip
    line = one_line_error(proc, "not reachable", url)
    assert "models fetch" not in line


def test_model_missing_on_the_server_is_one_line(triton: TritonServer, tmp_path: Path):
    proc = cli("--demo", "--sink", "null", "--duration", "1", "--swapper", SWAPPER, "--enhance",
               "gfpgan_1.4", "--remote", triton.grpc_url, "--models-dir", str(tmp_path))  # fmt: skip
    one_line_error(proc, "'gfpgan_1.4' is not ready", "realtime triton export gfpgan_1.4")


def test_shape_mismatch_is_one_line(triton: TritonServer, tmp_path: Path):
    proc = cli("--demo", "--sink", "null", "--duration", "1", "--swapper", "simswap_256",
               "--remote", triton.grpc_url, "--models-dir", str(tmp_path))  # fmt: skip
    one_line_error(
        proc, "does not match the manifest", "UINT8 [-1, 128, 128, 3]", "expected UINT8 [-1, 256, 256, 3]"
    )


def test_tls_failure_is_one_line(triton: TritonServer, tmp_path: Path):
    url = triton.grpc_url.replace("grpc://", "grpcs://")
    proc = cli("--demo", "--sink", "null", "--duration", "1", "--swapper", SWAPPER, "--remote", url,
               "--models-dir", str(tmp_path))  # fmt: skip
    one_line_error(proc, "TLS handshake", "?ca=")


def test_bench_remote_prints_latency_throughput_and_bytes(triton: TritonServer):
    proc = cli("bench", "--remote", triton.grpc_url, "--streams", "1,2", "--duration", "1")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["bytes_per_face"] == {
        "up": 128 * 128 * 3 + 512 * 4, "down": 128 * 128 * 3,
        "float32_up": (3 * 128 * 128 + 512) * 4, "float32_down": 3 * 128 * 128 * 4,
    }  # fmt: skip
    cases = {(r["model"], r["streams"]): r for r in report["results"]}
    assert set(cases) == {(m, n) for m in ("inswapper_128", "inswapper_128_nobatch") for n in (1, 2)}
    for r in cases.values():
        assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] < 1000 and r["failed"] == 0
        assert r["faces_per_s"] > 5
    assert cases[("inswapper_128", 1)]["dynamic_batching"] is True
    assert cases[("inswapper_128_nobatch", 1)]["dynamic_batching"] is False


def test_doctor_checks_the_configured_remote(triton: TritonServer, tmp_path: Path):
    from tests.test_doctor import SCHEMA, validate

    proc = cli("doctor", "--remote", triton.grpc_url, "--swapper", SWAPPER, "--json")
    doc = json.loads(proc.stdout)
    assert validate(doc, SCHEMA) == []
    rows = {r["check"]: r for r in doc["remote"]}
    assert rows[f"server {triton.grpc_url}"]["ok"]
    assert rows[f"model {SWAPPER}"]["ok"] and rows["model arcface_w600k_r50"]["ok"]
    bad = cli("doctor", "--remote", triton.grpc_url, "--swapper", "simswap_256")
    assert bad.returncode == 1
    assert "FAIL model simswap_256: input 'target' is UINT8 [-1, 128, 128, 3]" in bad.stdout
    assert "FAIL model crossface_simswap: not on the server" in bad.stdout
    down = cli("doctor", "--remote", f"grpc://127.0.0.1:{free_port()}")
    assert down.returncode == 1 and "not reachable" in down.stdout and "docs/remote.md" in down.stdout


def test_file_job_waits_for_a_restarted_server_and_loses_no_swap(own_triton: TritonServer, tmp_path: Path):
    """Nothing is lost in a file job: killed mid-job and restarted, the server is waited for,
    and every frame of the output is swapped."""
    clip = make_clip(tmp_path / "in.mp4", frames=90, audio=False)
    common = ["--input", str(clip), "--face", FACE, "--crf", "0", "--models-dir", str(tmp_path / "none")]
    stats = tmp_path / "stats.json"
    args = [*common, "--swapper", SWAPPER, "--remote", own_triton.grpc_url, "--output",
            str(tmp_path / "remote.mp4"), "--stats-json", str(stats)]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "realtime", *args], stderr=subprocess.PIPE, text=True)
    wait_for_inferences(own_triton, 15)
    own_triton.kill()
    time.sleep(2.0)
    own_triton.start(same_ports=True)
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    s = json.loads(stats.read_text())
    assert s["frames"] == 90 and s["remote_lost_frames"] == 0 and s["remote_waited_s"] > 1.0, s
    plain = cli(*common, "--swapper", "none", "--output", str(tmp_path / "plain.mp4"))
    assert plain.returncode == 0, plain.stderr
    got, ref = probe(tmp_path / "remote.mp4")["images"], probe(tmp_path / "plain.mp4")["images"]
    analyzer = FaceAnalyzer(AnalysisSettings())
    for k, (image, base) in enumerate(zip(got, ref, strict=True)):
        (face,) = analyzer.analyze_image(base)
        x1, y1, x2, y2 = face.box.astype(int)
        diff = np.abs(image.astype(int) - base.astype(int)).sum(axis=2)
        assert diff[y1:y2, x1:x2].mean() > 10, f"frame {k} was not swapped"
