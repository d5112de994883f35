"""The panel as a streamer uses it, on a phone (390x844, touch) and a desktop (1280x800), in
headless chromium: nothing scrolls sideways, every control is on screen and does what it says,
and the whole path (start, pick a face, basic settings, record, download, virtual camera) works
in one go. Screenshots go to build/screenshots (``REALTIME_SCREENSHOTS``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from tests.panel.conftest import SHOTS, PanelRun, start_panel, stop_panel

pytestmark = pytest.mark.browser

SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.fixture(scope="module")
def demo(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PanelRun]:
    run = start_panel(tmp_path_factory.mktemp("streamer"), "--demo", "--size", "640x360", "--fps", "15")
    yield run
    assert stop_panel(run) in (0, 130)


def open_as(browser: Any, run: PanelRun, size: str) -> tuple[Any, Any]:
    ctx = browser.new_context(accept_downloads=True, **SIZES[size])
    page = ctx.new_page()
    page.goto(run.url)
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=30000)
    page.wait_for_selector("#faces-list .face img", timeout=20000)
    return ctx, page


def save_shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def tap(page: Any, selector: str, touch: bool) -> None:
    loc = page.locator(selector).first
    loc.scroll_into_view_if_needed()
    loc.tap() if touch else loc.click()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_no_sideways_scrolling_and_every_control_is_on_screen(
    browser: Any, demo: PanelRun, size: str
) -> None:
    ctx, page = open_as(browser, demo, size)
    try:
        page.click("#advanced summary")  # the advanced settings open too
        page.click("#b-vcam")  # and the virtual camera's help
        time.sleep(0.5)
        width = SIZES[size]["viewport"]["width"]  # type: ignore[index]
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        boxes = page.evaluate(
            """() => [...document.querySelectorAll('button, input, select, a, summary')]
                 .filter((e) => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden')
                 .map((e) => { const r = e.getBoundingClientRect();
                   return {id: e.id || e.textContent.trim().slice(0, 20), tag: e.tagName, type: e.type || '',
                           left: r.left, right: r.right, w: r.width, h: r.height}; })"""
        )
        assert len(boxes) > 60  # the settings, the buttons, the faces, the links
        off = [b for b in boxes if b["left"] < 0 or b["right"] > width + 0.5 or b["w"] < 1]
        assert not off, f"controls outside the screen: {off[:5]}"
        if size == "phone":  # touch targets: buttons, fields and menus at least 44 px high
            small = [
                b
                for b in boxes
                if b["tag"] in ("BUTTON", "SELECT", "SUMMARY") or b["type"] in ("number", "text", "range")
            ]
            small = [b for b in small if b["h"] < 43.5 and not b["id"].startswith("b-")]
            assert not small, f"touch targets under 44 px: {small[:5]}"
        save_shot(page, f"panel-{size}")
        page.click("#b-vcam")
    finally:
        ctx.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_setting_can_be_typed_and_reset(browser: Any, demo: PanelRun, size: str) -> None:
    touch = size == "phone"
    ctx, page = open_as(browser, demo, size)
    try:
        page.click("#advanced summary")
        schema = page.evaluate("schema")
        typed = {}
        for section in ("swap", "faces"):
            for f in schema[section]:
                if f["kind"] != "number" or not f["live"] or f["name"] == "track_id":
                    continue
                value = f["max"] if f["default"] != f["max"] else f["min"]
                field = page.locator(f"#{section}-{f['name']}-n")
                field.scroll_into_view_if_needed()
                field.fill(str(value))
                field.press("Enter")
                field.evaluate("el => el.dispatchEvent(new Event('change'))")
                typed[(section, f["name"])] = value
        st = demo.wait_state(
            lambda s: all(float(s["settings"][sec][n]) == float(v) for (sec, n), v in typed.items()),
            timeout=30,
        )
        assert st["settings"]["swap"]["blend"] == typed[("swap", "blend")]
        # The range moved with the typed value, and the readout says it.
        page.wait_for_function(
            f"Number(document.getElementById('swap-blend').value) === {typed[('swap', 'blend')]}"
        )
        tap(page, "#reset", touch)
        demo.wait_state(
            lambda s: all(
                s["settings"][sec][f["name"]] == f["default"]
                for sec in ("swap", "faces")
                for f in schema[sec]
                if f["live"] and f["name"] != "track_id"
            ),
            timeout=30,
        )
        page.wait_for_function("document.getElementById('msg').textContent.includes('defaults')")
    finally:
        ctx.close()


def test_the_streamers_path_on_a_phone(browser: Any, demo: PanelRun, tmp_path: Path) -> None:
    """Start, pick a face from the thumbnails, basic settings, record, download the recording,
    the virtual camera badge, and a pause that asks first: one user, one session, by touch."""
    ctx, page = open_as(browser, demo, "phone")
    try:
        # Start: the preview is live, the swap is on air.
        demo.wait_state(lambda s: s["on_miss"]["state"] == "live", timeout=30)
        page.wait_for_function("document.getElementById('b-onair').textContent.includes('swapped')")
        # Faces: the bundled ones are offered as thumbnails; pick Grace Hopper.
        labels = page.locator("#faces-list .face span").all_inner_texts()
        assert {"astronaut", "grace hopper"} <= set(labels)
        thumbs = page.evaluate(
            "[...document.querySelectorAll('#faces-list .face img')].map((i) => i.naturalWidth)"
        )
        assert all(w > 0 for w in thumbs)  # the thumbnails load
        tap(page, "#faces-list .face[data-name='grace_hopper.jpg']", True)
        demo.wait_state(lambda s: s["face"] == "grace_hopper.jpg")
        page.wait_for_selector("#faces-list .face.current[data-name='grace_hopper.jpg']")
        # Basic settings, in plain words: face strength typed, skin tone slid, which faces chosen.
        basic = page.locator("#basic-list label.name").all_inner_texts()
        want = {"Face strength", "Skin tone match", "Which faces", "Smoothing (lower: steadier)"}
        assert want <= set(basic)
        page.fill("#swap-blend-n", "0.6")
        page.locator("#swap-blend-n").evaluate("el => el.dispatchEvent(new Event('change'))")
        demo.wait_state(lambda s: s["settings"]["swap"]["blend"] == 0.6)
        page.locator("#swap-color").evaluate(
            "el => { el.value = 0.3; el.dispatchEvent(new Event('input'));"
            " el.dispatchEvent(new Event('change')); }"
        )
        demo.wait_state(lambda s: s["settings"]["swap"]["color"] == 0.3)
        page.wait_for_function("document.getElementById('swap-color-n').value === '0.3'")  # the readout
        page.select_option("#swap-select", "largest")
        demo.wait_state(lambda s: s["settings"]["swap"]["select"] == "largest")
        save_shot(page, "panel-phone-settings")
        # Record two seconds, stop: the recording is listed with its size, and downloads.
        tap(page, "#rec", True)
        demo.wait_state(lambda s: s["recording"] is not None)
        time.sleep(2.0)
        tap(page, "#rec", True)
        demo.wait_state(lambda s: s["last_recording"] is not None)
        link = page.locator("#files a[href*='/files/recordings/']").first
        link.wait_for(timeout=20000)
        size_text = page.locator("#files li").first.locator(".size").inner_text()
        assert size_text.endswith(("kB", "MB"))
        with page.expect_download() as dl:
            link.tap()
        saved = tmp_path / dl.value.suggested_filename
        dl.value.save_as(saved)
        with av.open(str(saved)) as f:
            frames = [fr.to_ndarray(format="bgr24") for fr in f.decode(video=0)]
        assert len(frames) >= 10 and frames[0].shape[:2] == (360, 640)
        # The virtual camera: no driver here, so the badge says so and tapping it shows how.
        tap(page, "#vcam", True)
        st = demo.wait_state(lambda s: s["vcam"]["state"] != "off")
        if st["vcam"]["state"] == "missing":
            page.wait_for_function("document.getElementById('b-vcam').textContent.includes('missing')")
            assert page.locator("#b-vcam").bounding_box()["height"] < 40  # a badge, not a banner
            tap(page, "#b-vcam", True)
            help_text = page.inner_text("#vcam-help")
            assert "v4l2loopback" in help_text and "doctor" in help_text
            assert "modprobe v4l2loopback" in page.inner_text("#vcam-fix")  # the doctor's fix
            # pyvirtualcam's long sentence is not repeated on the page: one short line.
            assert page.inner_text("body").count("pyvirtualcam") == 0
            save_shot(page, "panel-phone-vcam")
        # Pause asks first; nothing changes until it is confirmed.
        tap(page, "#pause", True)
        page.wait_for_selector("#confirm", state="visible")
        time.sleep(0.5)
        assert demo.state()["processing"] is True
        save_shot(page, "panel-phone-confirm")
        tap(page, "#pause-yes", True)
        st = demo.wait_state(lambda s: s["processing"] is False and s["on_miss"]["frozen"] > 0)
        tap(page, "#pause", True)  # resuming needs no confirmation
        demo.wait_state(lambda s: s["processing"] is True)
    finally:
        ctx.close()


def test_presets_are_listed_and_keep_their_face(browser: Any, demo: PanelRun) -> None:
    ctx, page = open_as(browser, demo, "desktop")
    try:
        page.click("#faces-list .face[data-name='grace_hopper.jpg']")
        demo.wait_state(lambda s: s["face"] == "grace_hopper.jpg")
        page.fill("#pname", "hopper")
        page.click("#psave")
        page.wait_for_selector("#presets button.preset:has-text('hopper')")
        page.click("#faces-list .face[data-name='astronaut.jpg']")
        demo.wait_state(lambda s: s["face"] == "astronaut.jpg")
        page.select_option("#onmiss", "blur")
        demo.wait_state(lambda s: s["on_miss"]["policy"] == "blur")
        page.click("#presets button.preset:has-text('hopper')")
        # The face photo and the on-miss policy come back with the preset.
        demo.wait_state(lambda s: s["face"] == "grace_hopper.jpg" and s["on_miss"]["policy"] == "hold")
    finally:
        ctx.close()


def test_a_refused_photo_is_not_offered(browser: Any, demo: PanelRun, tmp_path: Path) -> None:
    ctx, page = open_as(browser, demo, "desktop")
    try:
        before = page.locator("#faces-list .face").count()
        blank = tmp_path / "wall.png"
        cv2.imwrite(str(blank), np.full((200, 200, 3), 120, np.uint8))
        page.set_input_files("#file", str(blank))
        page.wait_for_function("document.getElementById('msg').textContent.includes('no usable face')")
        time.sleep(0.5)
        assert page.locator("#faces-list .face").count() == before
        assert not list((demo.data / "faces").glob("*.png"))
    finally:
        ctx.close()


def test_an_old_link_says_where_the_new_one_is(browser: Any, demo: PanelRun) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{demo.base}/?token=from-yesterday")
        text = page.inner_text("body")
        assert "earlier run" in text and "control panel at" in text and "--panel-token" in text
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        save_shot(page, "panel-old-link")
    finally:
        page.close()


def test_a_photo_swapped_in_is_checked_and_the_panel_says_what_to_do(browser: Any, demo: PanelRun) -> None:
    """The photo check of ``realtime face check`` for a photo uploaded in the panel: the
    astronaut's face is 105 px, too small for a camera's face, and the panel says so with
    the fix; the state carries the whole report."""
    ctx, page = open_as(browser, demo, "phone")
    try:
        photo = Path(__file__).resolve().parents[2] / "realtime" / "assets" / "faces" / "astronaut.jpg"
        page.set_input_files("#file", str(photo))
        page.wait_for_function(
            "document.getElementById('photocheck').textContent.includes('face is 105 px')", timeout=30000
        )
        text = page.locator("#photocheck li.warn").first.inner_text()
        assert "face is 105 px" in text and "at least" in text, text
        state = demo.state()
        (report,) = state["photo_checks"]
        assert not report["ok"] and any(f["check"] == "size" and not f["ok"] for f in report["findings"])
        save_shot(page, "photo-check-phone")
    finally:
        ctx.close()
