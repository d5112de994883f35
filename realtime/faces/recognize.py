"""ArcFace identity embeddings (arcface_w600k_r50): who a face is, as a 512-d vector.

The face is aligned on the manifest's template (arcface_112_v2, 112 px), fed as RGB
(pixel - 127.5) / 127.5, and the output vector is returned both raw (the swappers' converters
expect its scale) and L2-normalised (what ``Face.embedding`` holds and cosine similarity uses).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from realtime.catalog.manifest import ModelSpec
from realtime.faces.align import crop_to_tensor, get_template, warp_face
from realtime.frame import Face, Frame
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.session import BuildCallback, InferenceSession

log = logging.getLogger(__name__)

DEFAULT_RECOGNIZER = "arcface_w600k_r50"


def l2_normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32).ravel()
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        raise ValueError("cannot normalise a zero or non-finite embedding")
    return v / n


class ArcFaceRecognizer:
    """Embeds aligned faces; one ONNX session, reused for every call."""

    def __init__(self, spec: ModelSpec, session: InferenceSession) -> None:
        self.spec = spec
        self.session = session
        self.template = get_template(spec.template)
        self.size = spec.crop_size
        self.input_name = spec.inputs[0].name

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        name: str = DEFAULT_RECOGNIZER,
        *,
        on_build: BuildCallback | None = None,
    ) -> ArcFaceRecognizer:
        spec, _path, session = open_model(name, access, on_build)
        return cls(spec, session)

    def embed(self, image: np.ndarray, kps5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw, L2-normalised) 512-d embedding of the face with keypoints ``kps5``."""
        crop, _m = warp_face(image, kps5, self.template, self.size)
        x = crop_to_tensor(crop, self.spec.mean, self.spec.std, self.spec.color)
        out = next(iter(self.session.run({self.input_name: x}).values()))
        raw = np.asarray(out, np.float32).ravel()
        return raw, l2_normalize(raw)

    def embed_faces(self, image: np.ndarray, faces: Sequence[Face]) -> tuple[Face, ...]:
        """The faces with ``embedding`` set (normalised); faces that have one keep it."""
        return tuple(
            f if f.embedding is not None else f.with_(embedding=self.embed(image, f.kps)[1]) for f in faces
        )


class RecognizeFaces:
    """Processor: adds embeddings to the frame's faces (for identity selection and overlays)."""

    name = "recognize"
    thread_safe = True  # no state but the recognizer's session

    def __init__(self, recognizer: ArcFaceRecognizer) -> None:
        self.recognizer = recognizer

    def __call__(self, frame: Frame) -> Frame:
        if not frame.faces:
            return frame
        return frame.with_faces(self.recognizer.embed_faces(frame.image, frame.faces))
