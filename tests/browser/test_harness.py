"""The browser the tests drive: what the harness switches off really is off (docs/testing.md)."""

from __future__ import annotations

from typing import Any


def test_chromium_builds_no_address_bar_popup(browser: Any) -> None:
    """Headless Chrome prepared its address-bar popups as web pages of their own (a renderer busy at every
    start, some 15 % of the browser tests' CPU); UNUSED_FEATURES turns them off. Should a Chromium update
    rename them, this says so instead of the tests quietly getting slower."""
    context = browser.new_context()
    try:
        context.new_page().goto("about:blank")
        session = browser.new_browser_cdp_session()
        targets = session.send("Target.getTargets", {"filter": [{}]})["targetInfos"]
    finally:
        context.close()
    assert [t["url"] for t in targets if t["type"] == "page"] == ["about:blank"]
    assert not [t["url"] for t in targets if "top-chrome" in t["url"]]
