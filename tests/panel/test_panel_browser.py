"""The control panel in a real browser (headless chromium): what a user sees and does."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from tests.panel.camera import DroppingCamera
from tests.panel.conftest import (
    FACES,
    PanelRun,
    diff,
    face_box,
    open_page,
    preview_image,
    shot,
    start_panel,
    stop_panel,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PanelRun]:
    """The demo source: a synthetic camera, moving, with the bundled face swapped in."""
    run = start_panel(tmp_path_factory.mktemp("demo"), "--demo", "--size", "640x360", "--fps", "15")
    yield run
    assert stop_panel(run) in (0, 130)
    assert run.token not in "".join(run.lines).replace(run.url, "")  # printed once, never logged


@pytest.fixture(scope="module")
def still(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PanelRun]:
    """A photo as the camera: the picture only changes when the swap does."""
    run = start_panel(
        tmp_path_factory.mktemp("still"),
        "--input",
        str(FACES / "grace_hopper.jpg"),
        "--face",
        str(FACES / "astronaut.jpg"),
        "--fps",
        "10",
    )
    yield run
    assert stop_panel(run) in (0, 130)


def test_preview_frames_arrive_and_the_picture_changes(browser: Any, demo: PanelRun) -> None:
    page = open_page(browser, demo)
    first = preview_image(page)
    time.sleep(1.0)
    second = preview_image(page)
    assert first.shape[0] > 100 and diff(first, second) > 1.0  # a live picture, not a still
    page.wait_for_function("document.getElementById('b-fps').textContent.includes('out 1')", timeout=20000)
    assert "cpu" in page.inner_text("#b-prov") and "mesh" in page.inner_text("#b-prov")
    page.wait_for_function("/\\d/.test(document.getElementById('b-lat').textContent)")
    assert "vcam off" in page.inner_text("#b-vcam")
    # Before/after: the raw camera has no swapped face; the toggle switches the stream.
    page.click("#view")
    page.wait_for_function("document.getElementById('preview').src.includes('view=before')")
    demo.wait_state(lambda s: s["view"] == "before")
    time.sleep(1.0)
    shot(page, "panel-before")
    page.click("#view")
    page.wait_for_function("document.getElementById('preview').src.includes('view=after')")
    time.sleep(3.0)  # a few seconds of charts
    shot(page, "panel")
    page.close()


def test_a_stalled_preview_would_fail_the_first_test(still: PanelRun, browser: Any) -> None:
    """The check above can fail: a photo as the camera gives the same picture twice."""
    page = open_page(browser, still)
    time.sleep(1.5)
    a = preview_image(page)
    time.sleep(1.0)
    assert diff(a, preview_image(page)) < 1.0
    page.close()


def test_uploading_a_photo_changes_the_swapped_face(browser: Any, still: PanelRun) -> None:
    page = open_page(browser, still)
    time.sleep(1.5)  # the colour smoothing settles
    box = face_box(still, page)
    before = preview_image(page)
    time.sleep(0.5)
    noise = diff(before, preview_image(page), box)
    page.set_input_files("#file", str(FACES / "grace_hopper.jpg"))
    st = still.wait_state(lambda s: s["face"] is not None)
    page.wait_for_function("document.getElementById('curface').textContent.includes('.png')")
    time.sleep(1.5)
    after = preview_image(page)
    changed = diff(before, after, box)
    assert changed > 3.0 and changed > 5 * noise, (changed, noise)
    stored = list((still.data / "faces").iterdir())
    assert [p.name for p in stored] == [st["face"]]  # kept under the data folder only
    # A file that is not an image is refused with a message, and the face stays.
    bad = still.data.parent / "not-a-photo.jpg"
    bad.write_bytes(b"GIF89a nothing here")
    page.set_input_files("#file", str(bad))
    page.wait_for_function("document.getElementById('msg').textContent.length > 0")
    assert still.state()["face"] == st["face"]
    page.close()


def test_changing_a_swap_setting_changes_the_output_and_the_state(browser: Any, still: PanelRun) -> None:
    page = open_page(browser, still)
    time.sleep(1.0)
    box = face_box(still, page)
    swapped = preview_image(page)
    page.eval_on_selector("#swap-blend", "el => { el.value = 0; el.dispatchEvent(new Event('change')); }")
    still.wait_state(lambda s: s["settings"]["swap"]["blend"] == 0.0)
    page.wait_for_function("document.getElementById('swap-blend-v').textContent === '0'")
    time.sleep(1.0)
    unswapped = preview_image(page)
    assert diff(swapped, unswapped, box) > 3.0
    # blend 0 shows the camera as it is: the same as the "before" view.
    page.click("#view")
    time.sleep(1.5)
    raw = preview_image(page)
    assert diff(unswapped, raw, box) < 2.0
    page.click("#view")
    # A value out of range is refused by the same check as a preset's, the state unchanged.
    page.eval_on_selector(
        "#swap-blend", "el => { el.max = 5; el.value = 3; el.dispatchEvent(new Event('change')); }"
    )
    page.wait_for_function("document.getElementById('msg').textContent.includes('swap.blend')")
    assert still.state()["settings"]["swap"]["blend"] == 0.0
    page.eval_on_selector("#swap-blend", "el => { el.value = 1; el.dispatchEvent(new Event('change')); }")
    still.wait_state(lambda s: s["settings"]["swap"]["blend"] == 1.0)
    page.close()


def test_clicking_a_face_selects_it(browser: Any, still: PanelRun) -> None:
    page = open_page(browser, still)
    x1, y1, x2, y2 = face_box(still, page)
    track = still.state()["faces"][0]["track_id"]
    page.click("#preview", position={"x": 5, "y": 5})  # a corner: no face there
    page.wait_for_function("document.getElementById('msg').textContent.includes('no face at')")
    assert still.state()["settings"]["swap"]["select"] == "all"
    page.click("#preview", position={"x": (x1 + x2) / 2, "y": (y1 + y2) / 2})
    st = still.wait_state(lambda s: s["settings"]["swap"]["select"] == "track")
    assert st["settings"]["swap"]["track_id"] == track
    page.wait_for_function(f"document.getElementById('paths').textContent.includes('swapping track {track}')")
    page.click("#selall")
    still.wait_state(lambda s: s["settings"]["swap"]["select"] == "all")
    page.close()


def test_record_start_stop_gives_a_playable_file(browser: Any, still: PanelRun) -> None:
    page = open_page(browser, still)
    page.click("#rec")
    st = still.wait_state(lambda s: s["recording"] is not None)
    path = Path(st["recording"]["path"])
    assert path.parent == still.data / "recordings"
    page.wait_for_function("document.getElementById('paths').textContent.includes('recording to')")
    time.sleep(2.0)
    page.click("#rec")
    page.wait_for_function("document.getElementById('paths').textContent.includes('last recording')")
    st = still.wait_state(lambda s: s["last_recording"] is not None)
    assert st["last_recording"]["path"] == str(path) and st["recording"] is None
    with av.open(str(path)) as f:  # finalised at stop: opens and decodes to the end
        frames = [fr.to_ndarray(format="bgr24") for fr in f.decode(video=0)]
    assert len(frames) >= 10 and frames[0].shape[:2] == (600, 512)
    assert st["last_recording"]["frames"] == len(frames)
    page.close()


def test_snapshot_vcam_and_presets(browser: Any, still: PanelRun) -> None:
    page = open_page(browser, still)
    page.click("#snap")
    page.wait_for_function("document.getElementById('msg').textContent.startsWith('saved')")
    assert len(list((still.data / "snapshots").glob("*.jpg"))) == 1
    page.click("#vcam")  # no v4l2loopback here: "missing", with the exact fix
    st = still.wait_state(lambda s: s["vcam"]["state"] != "off")
    if st["vcam"]["state"] == "missing":
        page.wait_for_function("document.getElementById('b-vcam').textContent.includes('missing')")
        assert st["vcam"]["fix"]
    page.eval_on_selector(
        "#swap-geometry", "el => { el.value = 0.25; el.dispatchEvent(new Event('change')); }"
    )
    still.wait_state(lambda s: s["settings"]["swap"]["geometry"] == 0.25)
    page.fill("#pname", "panel-test")
    page.click("#psave")
    page.wait_for_function("document.getElementById('msg').textContent.includes('panel-test.toml')")
    saved = still.data / "presets" / "panel-test.toml"
    from realtime.settings import load_preset

    assert load_preset(saved).swap.geometry == 0.25  # the configs/ format, read back by the CLI's loader
    page.eval_on_selector("#swap-geometry", "el => { el.value = 1; el.dispatchEvent(new Event('change')); }")
    still.wait_state(lambda s: s["settings"]["swap"]["geometry"] == 1.0)
    page.click("#pload")
    still.wait_state(lambda s: s["settings"]["swap"]["geometry"] == 0.25)
    page.close()


def test_the_panel_shows_camera_lost_and_recovers(browser: Any, tmp_path: Path) -> None:
    with DroppingCamera() as cam:
        run = start_panel(tmp_path, "--input", cam.url, "--face", str(FACES / "astronaut.jpg"))
        try:
            page = open_page(browser, run)
            assert not page.is_visible("#lost")
            cam.up.clear()  # the camera stops delivering
            page.wait_for_selector("#lost", state="visible", timeout=20000)
            assert run.state()["source_lost"] is True
            time.sleep(1.0)
            shot(page, "panel-camera-lost")
            cam.up.set()
            page.wait_for_selector("#lost", state="hidden", timeout=20000)
            captured = run.state()["captured"]
            run.wait_state(lambda s: not s["source_lost"] and s["captured"] > captured + 10)
            page.close()
        finally:
            cam.up.set()
            stop_panel(run)


def _request(run: PanelRun, method: str, path: str, headers: dict[str, str], body: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_requests_without_the_token_or_from_elsewhere_are_refused(browser: Any, demo: PanelRun) -> None:
    host = {"Host": f"127.0.0.1:{demo.port}"}
    tok = f"?token={demo.token}"
    pause = '{"name": "pause"}'
    assert _request(demo, "GET", "/api/state" + tok, host) == 200
    for path in ("/", "/api/state", "/stream.mjpg", "/snapshot.jpg", "/api/events"):
        assert _request(demo, "GET", path, host) == 401
    assert _request(demo, "GET", "/api/state?token=wrong", host) == 401
    assert _request(demo, "POST", "/api/command", host, pause) == 401
    assert _request(demo, "GET", "/api/state" + tok, {"Host": f"evil.example:{demo.port}"}) == 421
    foreign = {**host, "Origin": "http://evil.example", "Content-Type": "application/json"}
    assert _request(demo, "POST", "/api/command" + tok, foreign, pause) == 403
    assert demo.state()["processing"] is True  # nothing was paused

    # The same from a real browser: a page on another site that knows the token cannot
    # command the panel (Origin) ...
    page = browser.new_page()
    page.route("http://evil.test/", lambda r: r.fulfill(body="<h1>evil</h1>", content_type="text/html"))
    page.goto("http://evil.test/")
    status = page.evaluate(
        """async ([url, body]) => {
            try { const r = await fetch(url, {method: "POST", body, mode: "no-cors"}); return r.status; }
            catch (e) { return -1; } }""",
        [f"{demo.base}/api/command{tok}", pause],
    )
    assert status in (0, -1)  # opaque or failed: the browser shows the page nothing
    assert demo.state()["processing"] is True
    # ... and a domain rebound to 127.0.0.1 (DNS rebinding) gets no page at all (Host).
    resp = page.goto(f"http://rebind.test:{demo.port}/{tok}")
    assert resp is not None and resp.status == 421
    page.close()
    assert "refused a request for host" in "".join(demo.lines)
    assert "refused a cross-site request" in "".join(demo.lines)
