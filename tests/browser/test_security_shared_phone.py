"""A shared phone (docs/contract.md §6: signing out ends that session; §3.1 offline). The service worker
keeps the pages last seen so the forms open without signal; once nobody is signed in, the next person on
the phone must not be shown the last one's pages (their units, records, name) from that cache, whether
the last one signed out or their session simply ended."""

from __future__ import annotations

from typing import Any

FORGOTTEN = """async () => {
    const until = performance.now() + 15000;
    while (performance.now() < until) {
        const keys = await caches.keys();
        if (!keys.includes("ias-pages") && !keys.includes("ias-data")) return true;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
}"""


def _leave_pages_behind(phone: Any, field_user: Any) -> tuple[Any, str]:
    name = "赵六（共用手机）"
    walker = field_user("surveyor", organization="forestry", display_name=name)
    p = phone()
    p.sign_in(walker.username)
    p.page.wait_for_selector("html[data-offline-ready]", state="attached")
    p.goto("/")  # the home page (my units, my records, my name) is now saved on the phone
    p.app_ready()
    assert p.page.evaluate("async () => (await caches.keys()).includes('ias-pages')")
    return p, name


def test_signing_out_forgets_the_pages(phone: Any, field_user: Any) -> None:
    p, name = _leave_pages_behind(phone, field_user)
    p.page.click("details.menu summary")
    p.page.click("form[action$='/sign-out'] button")
    p.page.wait_for_url("**/sign-in?signed_out=1")
    assert p.page.evaluate(FORGOTTEN)
    p.context.set_offline(True)
    p.goto("/")
    assert name not in p.page.content()
    # The offline page does not offer the record form, forgotten too (it would only bring this page
    # back): it says to sign in once there is a connection.
    p.goto("/observations/new")
    p.page.wait_for_selector("p[data-offline-cannot-record]:not([hidden])")
    assert p.page.locator("a[data-offline-can-record]").is_hidden()
    assert "登录" in p.page.locator("p[data-offline-cannot-record]").inner_text()


def test_the_offline_page_offers_the_record_form_while_the_phone_keeps_it(
    phone: Any, field_user: Any
) -> None:
    p, _name = _leave_pages_behind(phone, field_user)
    p.context.set_offline(True)
    p.goto("/sites/999999")  # never opened here
    p.page.wait_for_selector("a[data-offline-can-record]:not([hidden])")
    assert p.page.locator("p[data-offline-cannot-record]").is_hidden()
    p.page.click("a[data-offline-can-record]")
    p.page.wait_for_selector("form[data-kind]", state="attached")  # the record form, kept for no signal


def test_a_session_that_ended_without_signing_out_leaves_no_pages_either(phone: Any, field_user: Any) -> None:
    p, name = _leave_pages_behind(phone, field_user)
    p.context.clear_cookies()  # the session expired, or was ended from elsewhere (a password change)
    p.goto("/")
    p.page.wait_for_url("**/sign-in**")  # the next person is asked to sign in
    assert p.page.evaluate(FORGOTTEN)
    p.context.set_offline(True)
    p.goto("/")
    assert name not in p.page.content()


def test_signing_out_with_unsent_records_warns_and_keeps_them(phone: Any, field_user: Any) -> None:
    walker = field_user("surveyor", organization="forestry")
    p = phone()
    p.sign_in(walker.username)
    p.app_ready()
    outbox_js = p.page.evaluate(
        "() => document.querySelector('script[src*=\"js/app.js\"]').src.replace('js/app.js', 'js/outbox.js')"
    )
    # A record the server refused waits on the phone (it is not sent again by itself).
    p.page.evaluate(
        """async ([src, userId]) => {
            const outbox = await import(src);
            await outbox.add({ id: crypto.randomUUID(), userId, kind: "observation", method: "POST",
                               url: "/api/v1/observations", body: {}, state: outbox.STATES.REJECTED });
        }""",
        [outbox_js, walker.id],
    )
    # Every question the page asks is noted; the first is answered "stay signed in", the second "sign out".
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept() if len(asked) == 2 else dialog.dismiss()

    p.page.on("dialog", answer)
    p.page.click("details.menu summary")
    # The question comes once the outbox is read, a moment after the click.
    with p.page.expect_event("dialog"):
        p.page.click("form[action$='/sign-out'] button")
    assert len(asked) == 1 and "1" in asked[0]
    p.goto("/")
    assert p.page.url.endswith("/") and p.page.locator("form[action$='/sign-out']").count() == 1

    p.page.click("details.menu summary")
    with p.page.expect_event("dialog"):
        p.page.click("form[action$='/sign-out'] button")
    p.page.wait_for_url("**/sign-in?signed_out=1")
    assert len(asked) == 2
    kept = p.page.evaluate("async (src) => (await (await import(src)).all()).length", outbox_js)
    assert kept == 1  # signing out kept it, for its owner's next sign-in
