"""Face enhancer (GFPGAN 1.4) as a processor, with a blend strength.

Each face is aligned on ffhq_512 at 512 px, restored, pasted back through a feathered box
mask, and the result is mixed with the input by ``blend`` (0 = untouched, 1 = fully enhanced),
as FaceFusion's ``face_enhancer_blend`` does (its default 80 % is our 0.8). On a CPU it costs
far more than a frame budget: wrap it in ``EveryNth``.
"""

from __future__ import annotations

import numpy as np

from realtime.catalog.manifest import ModelSpec
from realtime.faces.align import box_mask, crop_to_tensor, get_template, paste_back, tensor_to_crop, warp_face
from realtime.frame import Face, Frame
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.session import BuildCallback, InferenceSession

DEFAULT_ENHANCER = "gfpgan_1.4"


class FaceEnhancer:
    """Processor ``enhance``."""

    name = "enhance"
    thread_safe = True  # no state but the session, which serialises its own buffers

    def __init__(
        self,
        spec: ModelSpec,
        session: InferenceSession,
        *,
        blend: float | None = None,
        mask_blur: float = 0.3,
    ) -> None:
        self.spec, self.session = spec, session
        self.blend = float(spec.extra.get("default_blend", 0.8) if blend is None else blend)
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"enhancer blend must be in [0, 1], got {self.blend}")
        self.template = get_template(spec.template)
        self.size = spec.crop_size
        self.mask = box_mask(self.size, mask_blur)
        self.out_mean = float(spec.extra.get("output_mean", 127.5))
        self.out_std = float(spec.extra.get("output_std", 127.5))

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        name: str = DEFAULT_ENHANCER,
        *,
        on_build: BuildCallback | None = None,
        blend: float | None = None,
    ) -> FaceEnhancer:
        spec, _path, session = open_model(name, access, on_build)
        return cls(spec, session, blend=blend)

    def enhance_face(self, image: np.ndarray, face: Face) -> np.ndarray:
        crop, m = warp_face(image, face.kps, self.template, self.size)
        x = crop_to_tensor(crop, self.spec.mean, self.spec.std, self.spec.color)
        out = np.asarray(next(iter(self.session.run({self.spec.inputs[0].name: x}).values())), np.float32)
        if not np.all(np.isfinite(out)):
            return image
        restored = tensor_to_crop(out, self.out_mean, self.out_std, self.spec.color)
        return paste_back(image, restored, m, self.mask * self.blend)

    def __call__(self, frame: Frame) -> Frame:
        if not frame.faces or self.blend == 0.0:
            return frame
        image = frame.image
        for face in frame.faces:
            image = self.enhance_face(image, face)
        return frame.with_image(image)
