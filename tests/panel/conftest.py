"""The panel as a user runs it: `realtime panel ...` in a subprocess, driven by a real browser
(Playwright with Debian's chromium, headless). Skipped where chromium or Playwright is absent;
`.ci/run` installs both."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

CHROMIUM = os.environ.get("REALTIME_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "realtime" / "assets" / "faces"
SHOTS = Path(os.environ.get("REALTIME_SCREENSHOTS", ROOT / "build" / "screenshots"))

pytestmark = pytest.mark.browser


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@dataclass
class PanelRun:
    """A running `realtime panel` subprocess, its URL and everything it printed."""

    proc: subprocess.Popen[str]
    url: str
    data: Path
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url.split("?", 1)[0].rstrip("/")

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/api/state?token={self.token}", timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def command(self, command: str, /, **args: object) -> dict[str, Any]:
        """``POST /api/command``; an error answer raises ``urllib.error.HTTPError``."""
        req = urllib.request.Request(
            f"{self.base}/api/command?token={self.token}",
            data=json.dumps({"name": command, "args": args}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def wait_state(self, check: Any, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            st = self.state()
            if check(st):
                return st
            assert time.monotonic() < deadline, f"state never matched: {st}"
            time.sleep(0.2)


def start_panel(tmp: Path, *args: str) -> PanelRun:
    data = tmp / "data"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "REALTIME_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "realtime", "panel", "--no-browser", "--panel-port", "0", "--quiet", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "control panel at" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while not found.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the panel did not start:\n" + "".join(lines))
    url = re.search(r"control panel at (\S+)", "".join(lines))
    assert url is not None
    run = PanelRun(proc, url.group(1), data, lines)
    run.wait_state(lambda s: s["fps_out"] > 0, timeout=60)
    return run


def stop_panel(run: PanelRun) -> int:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGINT)
        try:
            run.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait()
    return run.proc.returncode


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # rebind.test stands for a DNS-rebinding attacker's domain that resolves to us.
            args=["--no-sandbox", "--host-resolver-rules=MAP rebind.test 127.0.0.1"],
        )
        yield b
        b.close()


def open_page(browser: Any, run: PanelRun) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(run.url)
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=30000)
    return page


def preview_image(page: Any) -> np.ndarray:
    """What the browser shows in the preview right now, as BGR pixels."""
    png = page.locator("#preview").screenshot()
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def face_box(run: PanelRun, page: Any) -> tuple[int, int, int, int]:
    """The first face's box from the state, in the preview element's on-screen pixels."""
    st = run.wait_state(lambda s: len(s["faces"]) > 0)
    x1, y1, x2, y2 = st["faces"][0]["box"]
    nat = page.evaluate(
        "(() => { const i = document.getElementById('preview'); return [i.naturalWidth, i.clientWidth]; })()"
    )
    k = nat[1] / nat[0]
    return int(x1 * k), int(y1 * k), int(x2 * k), int(y2 * k)


def diff(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int] | None = None) -> float:
    if box is not None:
        x1, y1, x2, y2 = box
        a, b = a[y1:y2, x1:x2], b[y1:y2, x1:x2]
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
