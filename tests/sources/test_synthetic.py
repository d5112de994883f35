

def test_several_faces_side_by_side_are_all_found() -> None:
    from realtime.faces.analysis import analyze_image

    src = SyntheticSource(faces=2, width=1280, height=720, live=False, seed=2)
    src.open()
    faces = analyze_image(src.read().image)
    assert len(faces) == 2
    centres = sorted(float(f.center[0]) for f in faces)
    assert centres[0] < 640 < centres[1]
