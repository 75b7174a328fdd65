"""Browser tests: the real app on a real server, driven in Debian's headless Chromium by Playwright.

The server runs the test app in a thread (werkzeug, threaded) on a free loopback port; requests commit for
real (marker `real_commits`), and the rows a test made are deleted after it. Each test gets a fresh
browser context that looks like a phone: 360 px wide, touch, zh-CN, Asia/Shanghai, with geolocation
granted and placed in a Liangping paddy. Every request the page makes is recorded, so a test can check
that nothing left the site.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import PADDY
from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
# Where the screenshots go. A test run writes them to a scratch folder (gitignored), so running the tests
# never changes the committed docs/screenshots/ (which the README names, so anyone can look at the UI
# without running it); `make screenshots` sets IAS_SCREENSHOTS_DIR=docs/screenshots to refresh those.
SCREENSHOTS = Path(os.environ.get("IAS_SCREENSHOTS_DIR") or ROOT / "test-artifacts" / "screenshots")
PHONE = {
    "viewport": {"width": 360, "height": 780},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "geolocation": {"latitude": PADDY[0], "longitude": PADDY[1], "accuracy": 6},
    "permissions": ["geolocation"],
    "service_workers": "allow",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test commits for real: the server answers from other threads and connections."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real_commits)


def _read_whole(app: Any) -> Any:
    """The app with each answer read whole, and closed, before the server sends it.

    werkzeug's development server leaves an answer open when the browser drops the connection half-way
    through it (its clean-up raises on the closed socket before it closes the answer): a file answer
    (static assets, photos) then surfaces as a ResourceWarning in whichever test runs next. The app
    streams nothing (no answer is a generator), so reading whole changes nothing else; production's
    gunicorn closes them."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return serve


@pytest.fixture(scope="session")
def live_server(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    storage = tmp_path_factory.mktemp("browser-storage")
    saved = {key: app.config[key] for key in ("IAS_STORAGE_DIR", "IAS_BASEMAP")}
    app.config.update(IAS_STORAGE_DIR=str(storage), IAS_BASEMAP="none")
    server = make_server("127.0.0.1", 0, _read_whole(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        app.config.update(saved)
        shutil.rmtree(storage, ignore_errors=True)


# Chromium's own address-bar popups, which headless Chrome builds as web pages in a renderer of their own at
# every start although nothing ever shows them: about 15 % of the browser tests' CPU (docs/testing.md).
UNUSED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup")
# Playwright passes its own --disable-features list, and Chromium keeps only the last of a repeated switch:
# so ours repeats Playwright's (read from the installed driver: `playwright_disabled_features`) plus ours.
PLAYWRIGHT_BUNDLE = "driver/package/lib/coreBundle.js"


def playwright_disabled_features() -> list[str]:
    """The features the installed Playwright disables in Chromium (its `disabledFeatures` list)."""
    import playwright as package

    source = (Path(package.__file__).parent / PLAYWRIGHT_BUNDLE).read_text(encoding="utf-8")
    found = re.search(r"disabledFeatures = (?:\(\w*\) => )?\[(.*?)\]", source, re.S)
    if found is None:
        pytest.fail(f"Playwright's disabled features not found in {PLAYWRIGHT_BUNDLE}: see UNUSED_FEATURES")
    # Entries are plain strings, or `cond ? "Name" : ""` (one the driver adds in some cases: kept).
    return sorted(set(re.findall(r'"([A-Za-z][A-Za-z0-9]*)"', re.sub(r"//[^\n]*", "", found.group(1)))))


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_args() -> list[str]:
    features = [*playwright_disabled_features(), *UNUSED_FEATURES]
    return [*CHROMIUM_ARGS, "--disable-features=" + ",".join(features)]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args())
    yield browser
    browser.close()


class Phone:
    """One browser context (a phone) and its page, with every request it made."""

    def __init__(self, context: Any, base_url: str, allowed_hosts: tuple[str, ...] = ()):
        self.context = context
        self.base_url = base_url
        self.allowed_hosts = allowed_hosts
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.requests: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Script errors count; a resource that failed to load while offline is the point of some tests.
        self.page.on("console", self._console)
        context.on("response", self._response)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    def _response(self, response: Any) -> None:
        if response.status >= 500:
            self.errors.append(f"{response.status} {response.url}")

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/sign-in")
        self.page.fill('input[name="username"]', username)
        self.page.fill('input[name="password"]', password)
        self.page.click('button[type="submit"]')
        self.page.wait_for_url(self.base_url + "/")

    def app_ready(self) -> None:
        self.page.wait_for_selector("html[data-app-ready]", state="attached")

    def outside_requests(self) -> list[str]:
        own = (urlsplit(self.base_url).netloc, *self.allowed_hosts)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc not in own
        ]

    def screenshot(self, name: str) -> None:
        if os.environ.get("TEST_DATABASE_URL"):
            return  # the SQLite pass writes them; `make test` runs both passes at once
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # Full page, with the fixed bars put back in the flow so they are not stamped over the middle
        # (through the CSSOM, which the page's CSP allows; an injected <style> it would refuse).
        fixed = "document.querySelectorAll('.bar, .tabs').forEach((el) => { el.style.position = %s; })"
        self.page.evaluate(fixed % "'static'")
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        self.page.evaluate(fixed % "''")


@pytest.fixture
def phone(browser: Any, live_server: str) -> Iterator[Any]:
    """`phone()` opens a new phone (browser context); all are closed after the test."""
    contexts: list[Any] = []
    opened: list[Phone] = []

    def open_phone(allowed_hosts: tuple[str, ...] = (), **overrides: Any) -> Phone:
        context = browser.new_context(**{**PHONE, **overrides})
        contexts.append(context)
        opened.append(Phone(context, live_server, allowed_hosts))
        return opened[-1]

    yield open_phone
    for context in contexts:
        context.close()
    for p in opened:
        # Nothing may leave the site (no CDN, no fonts, no analytics), and no script may fail.
        assert p.outside_requests() == [], p.outside_requests()
        assert p.errors == [], p.errors


@pytest.fixture
def restartable_phone(playwright: Any, live_server: str, tmp_path: Path) -> Iterator[Any]:
    """`restartable_phone()` starts the browser on one profile folder, as a phone's browser keeps its data;
    call it again after `.context.close()` to start the browser anew on the same profile."""
    profile = tmp_path / "profile"
    opened: list[Phone] = []

    def start() -> Phone:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=chromium_args(), **PHONE
        )
        opened.append(Phone(context, live_server))
        return opened[-1]

    yield start
    for p in opened:
        p.context.close()
        assert p.outside_requests() == [], p.outside_requests()
        assert p.errors == [], p.errors


@pytest.fixture
def field_user(make_user: Any) -> Any:
    """`field_user("surveyor", organization="agriculture")`: a committed user with the test password."""
    from app.extensions import db

    def make(role: str = "surveyor", organization: str = "agriculture", **fields: Any) -> Any:
        user = make_user(role, organization, **fields)
        db.session.commit()
        person = SimpleNamespace(
            id=user.id, username=user.username, display_name=user.display_name, user=user
        )
        # End the read at once: on SQLite the test thread's open transaction would block the server.
        db.session.rollback()
        return person

    return make
