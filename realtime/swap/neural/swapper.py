"""Neural face swappers (inswapper_128[_fp16], hyperswap_1a_256, simswap_256) as one processor.

Per face: align the target with the model's template, normalise as the manifest says, run the
model with the source identity vector, denormalise, and paste back through a feathered box mask
(optionally narrowed by occlusion / parsing masks, keeping the target's mouth, colour-matched).

What feeds the ``source`` input is data (``extra.source`` in swappers.toml):

* ``emap`` (inswapper): ``latent = normalize(normalize(embedding) @ emap)``, ``emap`` being the
  512x512 LAST initializer of the ONNX graph. insightface's own ``INSwapper.get`` normalises the
  latent; FaceFusion's ``prepare_source_embedding`` stops at ``embedding @ emap / |embedding|``.
  We follow insightface, whose code produced the model's training inputs: the model's ``source``
  branch then sees unit-norm latents, and the swap no longer depends on the embedding's norm.
* ``normed`` (hyperswap): the L2-normalised ArcFace embedding, as FaceFusion feeds it.
* ``converter`` (simswap): ``normalize(converter(raw embedding))``, the converter being another
  ONNX model (FaceFusion's crossface_simswap) mapping ArcFace space to SimSwap's.

FaceFusion additionally blends the source vector with the target's (``face_swapper_weight``);
at its default weight of 0.5 that blend is the identity, so it is not reproduced.

The emap is read with the ``onnx`` package (a runtime dependency for this alone).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from realtime.catalog.manifest import ModelSpec
from realtime.catalog.store import ensure
from realtime.errors import ConfigError, ModelError
from realtime.faces.align import (
    box_mask,
    crop_to_tensor,
    get_template,
    paste_back,
    tensor_to_crop,
    transform_points,
    warp_face,
)
from realtime.faces.recognize import ArcFaceRecognizer, l2_normalize
from realtime.frame import Face, Frame
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.session import BuildCallback, InferenceSession
from realtime.swap.neural.identity import DEFAULT_THRESHOLD, select_faces
from realtime.swap.neural.masks import color_transfer_lab

log = logging.getLogger(__name__)

NEURAL_SWAPPERS = ("hyperswap_1a_256", "inswapper_128", "inswapper_128_fp16", "simswap_256")


def read_last_initializer(path: str | os.PathLike[str]) -> np.ndarray:
    """The graph's last initializer as float32: inswapper's ``emap`` (512x512)."""
    # Heavy: loaded only for inswapper's emap.
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
        inits = model.graph.initializer
        if not inits:
            raise ValueError("the graph has no initializers")
        last = inits[-1]
        if last.data_location == onnx.TensorProto.EXTERNAL:
            raise ValueError(f"initializer {last.name!r} is stored outside the .onnx file (external data)")
        return np.asarray(numpy_helper.to_array(last), dtype=np.float32)
    except (ValueError, OSError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:  # type: ignore[attr-defined]
        raise ModelError(
            f"cannot read the emap initializer of {path}: {exc}", fix="delete the file and fetch it again"
        ) from exc
    except Exception as exc:  # protobuf's DecodeError: a corrupt file
        raise ModelError(
            f"cannot read the emap initializer of {path}: {type(exc).__name__}: {exc}",
            fix="delete the file and fetch it again",
        ) from exc


def inswapper_latent(embedding: np.ndarray, emap: np.ndarray) -> np.ndarray:
    """inswapper's ``source`` input: normalize(normalize(embedding) @ emap), shape (1, 512)."""
    e = l2_normalize(embedding).astype(np.float64)
    latent = e @ np.asarray(emap, np.float64)
    return l2_normalize(latent).reshape(1, -1)


# --- one swapper model -------------------------------------------------------------------


class FaceSwapModel:
    """One neural swapper: source vector from an embedding, and crop-to-crop inference."""

    def __init__(
        self,
        spec: ModelSpec,
        path: Path,
        session: InferenceSession,
        *,
        converter: InferenceSession | None = None,
    ) -> None:
        self.spec = spec
        self.session = session
        self.size = spec.crop_size
        self.template = get_template(spec.template)
        self.source_kind = str(spec.extra.get("source", ""))
        self.out_mean = float(spec.extra.get("output_mean", 0.0))
        self.out_std = float(spec.extra.get("output_std", 255.0))
        names = [t.name for t in spec.inputs]
        if "target" not in names or "source" not in names:
            raise ModelError(f"swapper {spec.name!r} manifest must declare 'target' and 'source' inputs")
        self.emap: np.ndarray | None = None
        if self.source_kind == "emap":
            self.emap = read_last_initializer(path)
            if self.emap.shape != (512, 512):
                raise ModelError(
                    f"{path.name}: last initializer has shape {self.emap.shape}, expected the 512x512 emap",
                    fix="the file is not an inswapper model; delete it and fetch it again",
                )
        elif self.source_kind == "converter":
            if converter is None:
                raise ModelError(f"swapper {spec.name!r} needs its embedding converter session")
        elif self.source_kind != "normed":
            raise ModelError(f"swapper {spec.name!r} has unknown extra.source {self.source_kind!r}")
        self.converter = converter

    @classmethod
    def load(cls, access: ModelAccess, name: str, *, on_build: BuildCallback | None = None) -> FaceSwapModel:
        spec, path, session = open_model(name, access, on_build)
        if access.remote and spec.extra.get("source") == "emap":  # the emap is read from the local file
            ensure(
                name, access.models_dir, specs=access.manifests(), trust_unverified=access.trust_unverified
            )
        converter = None
        if spec.extra.get("source") == "converter":
            _cspec, _cpath, converter = open_model(str(spec.extra["converter"]), access, on_build)
        return cls(spec, path, session, converter=converter)

    def source_vector(self, raw_embedding: np.ndarray) -> np.ndarray:
        """The (1, 512) float32 ``source`` input for an identity's raw ArcFace embedding."""
        if self.source_kind == "emap":
            assert self.emap is not None
            return inswapper_latent(raw_embedding, self.emap).astype(np.float32)
        if self.source_kind == "normed":
            return l2_normalize(raw_embedding).reshape(1, -1)
        assert self.converter is not None
        x = np.asarray(raw_embedding, np.float32).reshape(1, -1)
        conv_in = self.converter.inputs[0].name
        out = next(iter(self.converter.run({conv_in: x}).values()))
        return l2_normalize(out).reshape(1, -1)

    def swap_crop(self, crop: np.ndarray, source: np.ndarray) -> np.ndarray | None:
        """Swapped BGR crop for an aligned target crop, or None if the model gave NaN/inf."""
        x = crop_to_tensor(crop, self.spec.mean, self.spec.std, self.spec.color)
        out = next(iter(self.session.run({"target": x, "source": source}).values()))
        out = np.asarray(out, np.float32)
        if not np.all(np.isfinite(out)):
            return None
        return tensor_to_crop(out, self.out_mean, self.out_std, self.spec.color)


# --- the processor -------------------------------------------------------------------------


class NeuralSwapper:
    """Processor ``swap``: puts the source identity on the selected faces of each frame.

    The source embedding is computed once, here, from ``source_image`` and its keypoints.
    ``masker`` (optional) maps (aligned crop, crop keypoints) to a float mask in [0, 1] that
    narrows the feathered box mask - see ``realtime.swap.neural.masks.FaceMasker``.

    Thread-safe: several workers may call one instance while another thread changes the face.
    The identity is read once per frame under a lock (every face of a frame gets the same
    one), and the sessions serialise their own bound device buffers.
    """

    name = "swap"
    thread_safe = True

    def __init__(
        self,
        model: FaceSwapModel,
        recognizer: ArcFaceRecognizer,
        source_image: np.ndarray,
        source_kps: np.ndarray,
        *,
        pick: str = "many",
        reference_embedding: np.ndarray | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        mask_blur: float = 0.3,
        masker: Any = None,
        color_match: bool = False,
    ) -> None:
        self.model = model
        self.recognizer = recognizer
        self._lock = threading.Lock()
        self.source_embedding = np.zeros(0, np.float32)
        self.source = np.zeros((1, 0), np.float32)
        self.set_source_face(source_image, source_kps)
        self.pick = pick
        self.reference_embedding = reference_embedding
        self.threshold = threshold
        self.mask = box_mask(model.size, mask_blur)
        self.masker = masker
        self.color_match = color_match
        self.nan_faces = 0
        select_faces([], pick, reference_embedding)  # check the mode now, not mid-stream
        if pick == "reference" and reference_embedding is None:
            raise ConfigError("picking by reference needs a reference face", fix="pass --reference PHOTO")

    def set_source_face(self, image: np.ndarray, kps: np.ndarray) -> None:
        """Switch to another identity from the next frame on (one recognizer run), from any
        thread. The new vector is computed first and swapped in under the lock; a frame reads
        it once, so a frame in flight uses either the old or the new identity, never a mix."""
        raw, normed = self.recognizer.embed(image, kps)
        source = self.model.source_vector(raw)
        with self._lock:
            self.source_embedding, self.source = normed, source

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        swapper: str,
        source_image: np.ndarray,
        source_kps: np.ndarray,
        *,
        on_build: BuildCallback | None = None,
        **kwargs: Any,
    ) -> NeuralSwapper:
        """Open the swapper and the recognizer it requires from the cache, then build the processor.

        ``kwargs`` go to ``__init__`` (pick, reference_embedding, threshold, mask_blur,
        masker, color_match). A missing file raises ``ModelError`` with the fetch command.
        """
        specs = access.manifests()
        model = FaceSwapModel.load(access, swapper, on_build=on_build)
        rec_names = [n for n in model.spec.requires if specs[n].kind == "recognizer"]
        if not rec_names:
            raise ModelError(f"swapper {swapper!r} declares no recognizer in `requires`")
        recognizer = ArcFaceRecognizer.load(access, rec_names[0], on_build=on_build)
        return cls(model, recognizer, source_image, source_kps, **kwargs)

    def __call__(self, frame: Frame) -> Frame:
        if not frame.faces:
            return frame
        faces = frame.faces
        if self.pick == "reference":
            faces = self.recognizer.embed_faces(frame.image, faces)
        chosen = select_faces(faces, self.pick, self.reference_embedding, self.threshold)
        with self._lock:
            source = self.source
        image = frame.image
        swapped = 0
        for face in chosen:
            before = image
            image = self.swap_face(image, face, source)
            swapped += image is not before  # a face left unswapped returns the same image
        out = frame.with_faces(faces) if faces is not frame.faces else frame
        return out.with_image(image).with_swapped(swapped) if swapped else out

    def swap_face(self, image: np.ndarray, face: Face, source: np.ndarray | None = None) -> np.ndarray:
        """``image`` with one face swapped (a new array; the input is not modified).

        ``source`` is the identity vector to use (default: the current one)."""
        if source is None:
            with self._lock:
                source = self.source
        crop, m = warp_face(image, face.kps, self.model.template, self.model.size)
        swapped = self.model.swap_crop(crop, source)
        if swapped is None:
            with self._lock:
                self.nan_faces += 1
                count = self.nan_faces
            log.debug("swapper produced NaN/inf for a face (%d so far); left unswapped", count)
            return image
        mask = self.mask
        if self.masker is not None:
            mask = np.minimum(mask, self.masker(crop, transform_points(face.kps, m)))
        if self.color_match:
            swapped = color_transfer_lab(swapped, crop, mask)
        return paste_back(image, swapped, m, mask)
