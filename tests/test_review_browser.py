"""The review workbench in a real browser: Debian's headless Chromium, driven by Playwright, against the
app served by uvicorn on localhost. A reviewer logs in, works through the queue by keyboard, corrects a
label through the catalogue search, runs into another reviewer's edit, and uploads from a phone.

``DANGAN_SCREENSHOTS=DIR`` saves the README's screenshots while the tests run (scripts/screenshots.sh).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.db import repository as repo
from tests.review_support import PASSWORD, SAMPLES, ReviewFixture, build_review_fixture

CHROMIUM = Path(os.environ.get("DANGAN_CHROMIUM", "/usr/bin/chromium"))
# Flags for a root user on a machine without network (see the env notes): no sandbox, no phoning home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
SHOTS = os.environ.get("DANGAN_SCREENSHOTS")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium (DANGAN_SETUP_BROWSER=1)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class LiveServer:
    def __init__(self, fx: ReviewFixture) -> None:
        import uvicorn

        from review.app import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(fx.settings), host="127.0.0.1", port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the workbench did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def fx(tmp_path) -> ReviewFixture:
    return build_review_fixture(tmp_path / "home")


@pytest.fixture
def live(fx) -> Iterator[LiveServer]:
    server = LiveServer(fx)
    yield server
    server.stop()


def new_page(browser, live: LiveServer, username: str, *, mobile: bool = False):  # type: ignore[no-untyped-def]
    viewport = {"width": 390, "height": 844} if mobile else {"width": 1400, "height": 900}
    context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live.url}/queue")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/queue")
    return page


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def labels(fx: ReviewFixture) -> dict[str, tuple[str | None, str]]:
    from pipelines.storage import Database

    out = {}
    with Database.open(fx.settings.db_url).session() as s:
        for name, doc_id in fx.doc_ids.items():
            label = repo.current_label(s, doc_id)
            if label is not None and label.source != "auto":
                out[name] = (label.item_code, label.created_by)
    return out


def test_login_rejects_a_wrong_password(browser, live):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/queue")
    page.fill("#username", "rita")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    assert "wrong username or password" in page.text_content("#login-error")
    context.close()


def test_work_through_the_queue_by_keyboard(browser, live, fx):
    page = new_page(browser, live, "rita")
    rows = page.locator("tr.queue-row")
    assert rows.count() == 3
    shot(page, "queue")
    # j/k move the cursor; Enter opens the document under it.
    page.keyboard.press("j")
    assert "cursor" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/documents/{fx.doc_ids['doc_001.pdf']}*")
    assert page.locator("img.page-img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    # One keystroke: "2" picks the second suggestion (C5-1), saves it, and opens the next document.
    page.keyboard.press("2")
    page.wait_for_url(f"**/documents/{fx.doc_ids['doc_003.pdf']}*")
    assert "C5-1" in page.text_content("#flash")
    # One keystroke: Enter confirms a correct top suggestion.
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/documents/{fx.doc_ids['doc_002.pdf']}*")
    # Correct a label the model did not suggest: "/" searches the catalogue by words.
    page.keyboard.press("/")
    page.keyboard.type("隐蔽")
    page.wait_for_selector("button.pick-item[data-code='C5-1']")
    shot(page, "document")
    page.click("button.pick-item[data-code='C5-1']")
    assert page.is_checked("#cand-custom")
    page.keyboard.press("Enter")
    page.wait_for_url("**/queue*")
    assert page.locator("#queue-empty").count() == 1
    assert labels(fx) == {"doc_001.pdf": ("C5-1", "rita"), "doc_003.pdf": ("A1-2", "rita"),
                          "doc_002.pdf": ("C5-1", "rita")}


def test_correct_tags_and_bulk_approve(browser, live, fx):
    page = new_page(browser, live, "rita")
    page.keyboard.press("Enter")  # the lowest-confidence document
    page.click("#tags summary")
    page.fill("input[name=doc_number]", "隐-2020-017")
    page.click("#cand-2")
    page.click("#approve")
    page.wait_for_url(f"**/documents/{fx.doc_ids['doc_003.pdf']}*")
    from pipelines.storage import Database

    with Database.open(fx.settings.db_url).session() as s:
        label = repo.current_label(s, fx.doc_ids["doc_001.pdf"])
    assert label.item_code == "C5-1" and label.tags["doc_number"] == "隐-2020-017"
    # Back in the queue: x selects, A approves the top suggestion of every selected document.
    page.goto(f"{live.url}/queue")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("Shift+A")
    page.wait_for_selector("#flash")
    assert "approved 2" in page.text_content("#flash")
    assert labels(fx)["doc_003.pdf"] == ("A1-2", "rita") and labels(fx)["doc_002.pdf"] == ("C2-7", "rita")


def test_two_reviewers_on_one_document_get_a_conflict_not_an_overwrite(browser, live, fx):
    doc = fx.doc_ids["doc_003.pdf"]
    rita, rob = new_page(browser, live, "rita"), new_page(browser, live, "rob")
    for page in (rita, rob):
        page.goto(f"{live.url}/documents/{doc}")
    rita.keyboard.press("1")
    rita.wait_for_url(lambda url: f"/documents/{doc}" not in url)
    rob.keyboard.press("2")
    rob.wait_for_selector("#conflict")
    assert "rita" in rob.text_content("#conflict") and "A1-2" in rob.text_content("#conflict")
    assert labels(fx)["doc_003.pdf"] == ("A1-2", "rita")
    # Reload shows rita's label; rob can still change it deliberately, as a new version.
    rob.click("#reload")
    assert "A1-2" in rob.text_content("#current-label")
    rob.keyboard.press("2")
    rob.wait_for_url(lambda url: f"/documents/{doc}" not in url)
    assert labels(fx)["doc_003.pdf"] == ("A1-1", "rob")


def test_viewer_cannot_label_by_keyboard(browser, live, fx):
    page = new_page(browser, live, "vic")
    page.keyboard.press("Enter")
    page.wait_for_url("**/documents/*")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert "/documents/" in page.url and labels(fx) == {}


def test_upload_from_a_phone(browser, live, fx):
    page = new_page(browser, live, "rita", mobile=True)
    page.goto(f"{live.url}/upload")
    shot(page, "upload-mobile")
    page.set_input_files("#files", [str(SAMPLES / "IMG_20190527_093105.jpg"), str(SAMPLES / "doc_005.pdf")])
    page.click("#upload-submit")
    page.wait_for_selector("#upload-results")
    assert page.locator("#upload-results li.status-accepted").count() == 2
    # The page fits the phone's width (no sideways scrolling).
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    stored = sorted(p.name for p in fx.settings.inbox_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert stored == ["IMG_20190527_093105.jpg", "doc_005.pdf"]
