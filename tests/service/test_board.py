"""The board in real headless Chromium (Debian's chromium, driven by Playwright): it loads, shows the top
stories, takes live updates while a replay's output grows, a click opens a story page, and it fits a phone.
Screenshots go to the test's tmp folder. Skips when chromium or Playwright is absent."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FILES = ("stories.jsonl", "tags.jsonl", "article-vectors.jsonl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_quiet(page, quiet_s: float = 2.0, timeout_s: float = 30.0) -> None:
    """Until the live update count has not moved for `quiet_s` (the appended output is all applied and shown)."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        count = page.evaluate("document.querySelector('#live').dataset.updates")
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.2)
    raise AssertionError("live updates did not settle")


def _copy_head(source: Path, target: Path, fraction: float) -> list[str]:
    """Write the first `fraction` of each output file to `target`; return the rest of each, to append later."""
    rest = []
    for name in FILES:
        lines = (source / name).read_text(encoding="utf-8").splitlines(keepends=True)
        cut = int(len(lines) * fraction)
        (target / name).write_text("".join(lines[:cut]), encoding="utf-8")
        rest.append("".join(lines[cut:]))
    return rest


@pytest.fixture
def live_board(replayed_demo, tmp_path):
    """A real server on localhost following a folder that holds the first half of a replay's output."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    import uvicorn

    from service import ServeOptions, build

    folder = tmp_path / "replay"
    folder.mkdir()
    rest = _copy_head(replayed_demo["out"], folder, 0.6)
    app, _ = build(ServeOptions(database=tmp_path / "view.sqlite", replay_dir=folder))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield {"url": f"http://127.0.0.1:{server.config.port}/", "folder": folder, "rest": rest}
    server.should_exit = True
    thread.join(timeout=10)


def test_board_shows_top_stories_live_updates_and_a_story_page(live_board, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(live_board["url"])
            page.wait_for_selector(".story-card")
            assert page.locator(".story-card").count() >= 5
            page.wait_for_selector("#live.on")
            page.wait_for_selector("#map circle")
            page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

            for name, text in zip(FILES, live_board["rest"]):  # the replay goes on writing
                with (live_board["folder"] / name).open("a", encoding="utf-8") as handle:
                    handle.write(text)
            page.wait_for_function("Number(document.querySelector('#live').dataset.updates || 0) > 0", timeout=15_000)
            _wait_until_quiet(page)
            page.screenshot(path=str(tmp_path / "board-live.png"), full_page=True)

            first = page.locator(".story-card").first
            story_id, title = first.get_attribute("data-id"), first.locator(".title").inner_text()
            page.locator(f'.story-card[data-id="{story_id}"]').click()
            page.wait_for_selector("#story-title")
            assert page.locator("#story-title").inner_text() == title
            assert page.locator(".members li").count() >= 1
            page.screenshot(path=str(tmp_path / "story.png"), full_page=True)
            assert errors == []

            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
            phone.goto(live_board["url"])
            phone.wait_for_selector(".story-card")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # one column, nothing off-screen
            phone.screenshot(path=str(tmp_path / "board-phone.png"))
        finally:
            browser.close()
    assert all((tmp_path / name).stat().st_size > 10_000 for name in ("board.png", "board-live.png", "story.png", "board-phone.png"))
