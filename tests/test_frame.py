import numpy as np
import pytest

from realtime.frame import Face, Frame


def _face(**kw):
    base = dict(box=[10, 10, 50, 60], score=0.9, kps=np.zeros((5, 2)))
    base.update(kw)
    return Face(**base)


def test_frame_checks_image_on_creation():
    img = np.zeros((4, 6, 3), np.uint8)
    f = Frame(index=0, captured_at=1.0, image=img)
    assert (f.width, f.height) == (6, 4)
    with pytest.raises(ValueError, match="uint8"):
        Frame(index=0, captured_at=1.0, image=img.astype(np.float32))
    with pytest.raises(ValueError, match="HxWx3"):
        Frame(index=0, captured_at=1.0, image=np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match="contiguous"):
        Frame(index=0, captured_at=1.0, image=np.zeros((4, 12, 3), np.uint8)[:, ::2])
    with pytest.raises(ValueError, match="tuple of Face"):
        Frame(index=0, captured_at=1.0, image=img, faces=[_face()])  # type: ignore[arg-type]


def test_frame_is_frozen_and_with_returns_new_packet():
    img = np.zeros((4, 6, 3), np.uint8)
    f = Frame(index=3, captured_at=1.0, image=img)
    with pytest.raises(AttributeError):
        f.index = 4  # type: ignore[misc]
    g = f.with_faces([_face()]).with_timing("swap", 2.5).with_flag("passthrough")
    assert f.faces == () and len(g.faces) == 1
    assert g.timings == (("swap", 2.5),) and "passthrough" in g.flags
    assert g.index == 3 and g.image is img


def test_face_checks_shapes_and_values():
    f = _face(mesh=np.zeros((468, 3)))
    assert f.box.dtype == np.float32 and f.mesh is not None and f.mesh.shape == (468, 3)
    assert f.area == 40 * 50
    with pytest.raises(ValueError, match="kps"):
        _face(kps=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        _face(box=[0, 0, np.nan, 1])
    with pytest.raises(ValueError, match="x1<=x2"):
        _face(box=[10, 10, 5, 60])
