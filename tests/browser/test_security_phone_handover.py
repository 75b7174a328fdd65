"""A shared phone handed on (docs/contract.md §6, docs/architecture.md "Signing out on a shared phone").

What a form remembered for its next record, the saved pages and the menu of whoever was signed in must not
reach the next person; unsent records and the saved basemap stay. Signing out with no signal signs the
person out on the phone at once, and the sign-out reaches the server before anything else is sent with
that session."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from app.accounts.models import UserSession
from app.extensions import db
from tests.browser.test_field_work import _observations_of, _record
from tests.browser.test_security_shared_phone import FORGOTTEN
from tests.browser.waiting import wait_until

OUTBOX_MODULE = """document.querySelector('link[rel=modulepreload][href$="/js/outbox.js"]').href"""
SENDING = 30_000
AT_ONCE = 8_000  # well below signed-out.js's retry every 15 s

# Every key this site keeps in localStorage, and sessionStorage's size.
STORAGE = """() => ({
    local: Object.keys(localStorage).filter((k) => k.startsWith("ias:")).sort(),
    session: sessionStorage.length,
})"""


def _sign_out(p: Any, *, unsent: bool = False) -> None:
    if unsent:
        p.page.once("dialog", lambda dialog: dialog.accept())  # "n of your records have not been sent"
    p.page.click("details.menu summary")
    p.page.click("form[action$='/sign-out'] button")


def _live_sessions(user_id: int) -> int:
    db.session.rollback()
    try:
        return len(
            db.session.scalars(
                sa.select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            ).all()
        )
    finally:
        db.session.rollback()


def test_what_the_record_form_remembered_is_forgotten_on_sign_out(phone: Any, field_user: Any) -> None:
    first = field_user("surveyor", organization="forestry")
    second = field_user("surveyor", organization="forestry")
    p = phone()
    p.sign_in(first.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")
    p.page.fill('input[name="place_name"]', "李家沟口鱼塘")
    _record(p, density="5")
    expect(p.page.locator("[data-form-result]")).to_have_attribute("data-state", "sent", timeout=SENDING)
    remembered = p.page.evaluate(STORAGE)["local"]
    assert "ias:last:place_name" in remembered and "ias:last:township_code" in remembered

    _sign_out(p)
    p.page.wait_for_url("**/sign-in?signed_out=1")
    wait_until(p.page, '() => !Object.keys(localStorage).some((k) => k.startsWith("ias:last:"))')
    p.sign_in(second.username)
    p.goto("/observations/new")
    p.page.wait_for_selector("form[data-ready]")
    assert p.page.locator('input[name="place_name"]').input_value() == ""
    assert p.page.locator('select[name="township_code"]').input_value() == ""


def test_each_kept_value_is_decided_on_sign_out_and_when_the_session_ends(
    phone: Any, field_user: Any
) -> None:
    """The table in docs/architecture.md: forgotten unless it is an unsent record kept for its owner."""
    walker = field_user("surveyor", organization="forestry")
    p = phone()
    p.sign_in(walker.username)
    p.app_ready()
    outbox_js = p.page.evaluate(OUTBOX_MODULE)

    def leave_things_behind() -> None:
        p.page.evaluate(
            """async ([src, userId]) => {
                const outbox = await import(src);
                // An operation made offline for a record already sent: it needs the record's server id.
                await outbox.add({ id: "op-1", userId, kind: "control", method: "POST", url: "/api/v1/x",
                                   body: {}, dependsOn: "rec-needed", state: outbox.STATES.REJECTED });
                localStorage.setItem("ias:sent-ids", JSON.stringify({ "rec-old": 7, "rec-needed": 8 }));
                localStorage.setItem(`ias:route:active:${userId}`, JSON.stringify({ id: "r-1", userId,
                                     phase: "running", present: [], pauses: [] }));
                localStorage.setItem("ias:last:place_name", "王家湾");
                localStorage.setItem("ias:some-future-key", "x");
                sessionStorage.setItem("ias:draft", "y");
            }""",
            [outbox_js, walker.id],
        )

    def check_decisions() -> None:
        wait_until(p.page, "() => document.documentElement.dataset.forgotten === '1'")  # signed-out.js
        kept = p.page.evaluate(STORAGE)
        assert kept["local"] == [f"ias:route:active:{walker.id}", "ias:sent-ids"]
        assert kept["session"] == 0
        assert p.page.evaluate('() => JSON.parse(localStorage.getItem("ias:sent-ids"))') == {"rec-needed": 8}
        assert p.page.evaluate(f"async () => (await (await import({outbox_js!r})).all()).length") == 1

    leave_things_behind()
    _sign_out(p, unsent=True)
    p.page.wait_for_url("**/sign-in?signed_out=1")
    check_decisions()

    p.sign_in(walker.username)
    p.app_ready()
    leave_things_behind()
    p.context.clear_cookies()  # the session ended without signing out (expired, or a password change)
    p.goto("/")
    p.page.wait_for_url("**/sign-in**")
    check_decisions()


def test_the_next_walker_on_the_phone_keeps_the_last_ones_route(phone: Any, field_user: Any) -> None:
    """A route left unfinished by one surveyor is kept for them: the next person's walk is kept beside it,
    never over it (route-store.js keeps one route a walker; before, one for the phone)."""
    first, second = field_user("surveyor"), field_user("surveyor")
    p = phone()
    p.sign_in(first.username)
    p.app_ready()
    store_js = p.page.evaluate(OUTBOX_MODULE).replace("/js/outbox.js", "/js/route-store.js")
    routes = p.page.evaluate(
        """async ([src, first, second]) => {
            const store = await import(src);
            // A phone that kept the first walker's route under the one key of before: moved to theirs.
            localStorage.setItem("ias:route:active", JSON.stringify({ id: "r-first", userId: first,
                                 phase: "paused", present: [], pauses: [] }));
            const mine = store.active(first);
            store.save({ id: "r-second", userId: second, phase: "running", present: [], pauses: [] });
            store.notePresent(second, 7);
            const after = [store.active(first)?.id, store.active(second)?.id, store.active(second)?.present];
            store.clear(second);
            return { mine: mine?.id, after, left: [store.active(first)?.id, store.active(second)],
                     kept: store.anyKept(), legacy: localStorage.getItem("ias:route:active") };
        }""",
        [store_js, first.id, second.id],
    )
    assert routes == {
        "mine": "r-first",
        "after": ["r-first", "r-second", [7]],
        "left": ["r-first", None],
        "kept": True,
        "legacy": None,
    }


def test_saved_basemap_tiles_stay_for_the_next_surveyor(phone: Any, field_user: Any) -> None:
    """Map imagery of a township, shared station equipment: kept, and its description names nobody."""
    walker = field_user("surveyor", organization="forestry", display_name="孙八（瓦片）")
    p = phone()
    p.sign_in(walker.username)
    p.app_ready()
    tiles_js = p.page.evaluate(OUTBOX_MODULE).replace("/js/outbox.js", "/js/tiles.js")
    p.page.evaluate(
        """async (src) => {
            const tiles = await import(src);
            await tiles.saveArea({ area: { code: "500155001", name: "礼让镇" },
                                   plan: { min_zoom: 12, max_zoom: 16 }, urls: [], concurrency: 1,
                                   onProgress: () => {}, shouldStop: () => false });
        }""",
        tiles_js,
    )
    _sign_out(p)
    p.page.wait_for_url("**/sign-in?signed_out=1")
    assert p.page.evaluate(FORGOTTEN)
    keys = p.page.evaluate("async () => await caches.keys()")
    assert "ias-tiles-500155001" in keys
    meta = p.page.evaluate(
        """async () => {
            const cache = await caches.open("ias-tiles-500155001");
            return await (await cache.match("/app/offline-tiles/saved")).json();
        }"""
    )
    # What was saved and when, of a township: no user, no record.
    assert sorted(meta) == ["bytes", "code", "max_zoom", "min_zoom", "name", "saved_at", "tiles"]
    assert meta["code"] == "500155001"


def test_the_offline_page_carries_nobodys_menu(phone: Any, field_user: Any) -> None:
    admin = field_user("admin", organization="forestry", display_name="周九（管理员）")
    p = phone()
    p.sign_in(admin.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    assert p.page.locator("a[href='/admin/users']").count() > 0  # the admin's own pages show their menu
    saved = p.page.evaluate("async () => await (await caches.match('/offline', { ignoreVary: true })).text()")
    for personal in ("/admin/users", "/exports", "/dashboard", "/review", admin.display_name, "csrf"):
        assert personal not in saved, personal
    # The next person, with no signal, on a page this phone never opened: the shared copy.
    p.context.set_offline(True)
    p.goto("/sites/999999")
    expect(p.page.locator("h1")).to_have_text("无网络连接")
    assert p.page.locator("a[href='/admin/users']").count() == 0
    assert p.page.locator("[data-unread-count]").count() == 0


def test_signing_out_with_no_signal_signs_out_at_once_and_tells_the_server_first(
    phone: Any, field_user: Any
) -> None:
    first = field_user("surveyor", organization="forestry", display_name="钱七（共用手机）")
    second = field_user("surveyor", organization="forestry")
    p = phone()
    p.sign_in(first.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/")
    p.app_ready()
    outbox_js = p.page.evaluate(OUTBOX_MODULE)
    other_tab = p.context.new_page()  # left open on the first person's home page
    other_tab.goto(p.base_url + "/")
    other_tab.wait_for_selector("html[data-app-ready]", state="attached")

    p.context.set_offline(True)
    p.goto("/observations/new")
    _record(p, density="7")  # waits on the phone: no signal
    expect(p.page.locator("[data-outbox-count]")).to_have_text("1")
    _sign_out(p, unsent=True)

    # Signed out on the phone at once: the sign-in step shows, nothing of the person is left to see.
    expect(p.page.locator("h1")).to_have_text("已在本机退出登录")
    assert first.display_name not in p.page.content()
    assert p.page.evaluate("async () => !(await caches.keys()).includes('ias-pages')")
    # A worker stopped and started again (as browsers do when it is idle) reads the mark it kept.
    cdp = p.context.new_cdp_session(p.page)
    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")
    p.goto("/")
    expect(p.page.locator("h1")).to_have_text("已在本机退出登录")
    assert first.display_name not in p.page.content()
    # Anything asked with the old session is answered "nobody is signed in" by the phone itself.
    status = p.page.evaluate("async () => (await fetch('/app/session.json')).status")
    assert status == 401
    assert _live_sessions(first.id) == 1  # the server has not heard yet
    # The other tab left the person's page too.
    expect(other_tab.locator("h1")).to_have_text("已在本机退出登录")
    assert first.display_name not in other_tab.content()

    # The signal returns: the sign-out goes first, then the sign-in page; the record was not sent with the
    # old session by either tab (it waits for its owner).
    # A page of the site with no script of its own (a file of the app): only the outbox runs in it, and it
    # does not leave for the sign-in page when the signal returns.
    probe = p.context.new_page()
    probe.goto(outbox_js)
    p.context.set_offline(False)
    report = probe.evaluate("async (src) => (await import(src)).sync()", outbox_js)
    assert report["sent"] == 0 and report["signIn"], report
    # Both tabs move on as soon as the worker has delivered it, not at their next retry (15 s).
    p.page.wait_for_selector('input[name="username"]', timeout=AT_ONCE)
    other_tab.wait_for_selector('input[name="username"]', timeout=AT_ONCE)
    assert _live_sessions(first.id) == 0
    assert _observations_of(first.id) == []

    # The next person signs in; the record is not theirs to send.
    p.sign_in(second.username)
    p.app_ready()
    p.page.click("[data-sync-now]")
    expect(p.page.locator("[data-outbox-list] li")).to_have_count(1)
    assert _observations_of(first.id) == [] and _observations_of(second.id) == []
    _sign_out(p)
    p.page.wait_for_url("**/sign-in?signed_out=1")

    # Its owner signs in again: sent, as theirs.
    p.sign_in(first.username)
    p.app_ready()
    p.page.wait_for_selector("[data-outbox-empty]:not([hidden])", timeout=SENDING)
    [record] = _observations_of(first.id)
    assert record["density_per_m2"] == 7
    other_tab.close()
    probe.close()


def test_a_sign_out_waiting_for_signal_survives_closing_the_browser(
    restartable_phone: Any, field_user: Any
) -> None:
    walker = field_user("surveyor", organization="forestry", display_name="吴十（关机）")
    p = restartable_phone()
    p.sign_in(walker.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.context.set_offline(True)
    _sign_out(p)
    expect(p.page.locator("h1")).to_have_text("已在本机退出登录")
    p.context.close()  # the battery dies; the worker is gone with the browser

    # Switched on again, with no signal by the time the app is opened. The browser's background sync may
    # already have sent the sign-out as it started (its worker is not held by the page's offline
    # emulation); either way the person is gone.
    p = restartable_phone()
    p.context.set_offline(True)
    p.goto("/")
    assert walker.display_name not in p.page.content()
    waiting = _live_sessions(walker.id) == 1
    if waiting:  # not sent yet: the mark outlived the worker
        expect(p.page.locator("h1")).to_have_text("已在本机退出登录")
    p.context.set_offline(False)
    if not waiting:
        p.goto("/")
    # The signed-out page sends it when the signal returns and opens the sign-in page.
    p.page.wait_for_selector('input[name="username"]', timeout=SENDING)
    assert _live_sessions(walker.id) == 0
