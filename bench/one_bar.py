"""Record-and-save on "one bar" of signal (docs/contract.md §5 budget: "saved on this phone" shown within 2 s,
and never a disabled button with no message).

A phone-sized headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) signs in with signal, so
the service worker saves the capture form, and then meets a link on which it thinks it is online and nothing
ever comes back: every request to the site is held unanswered. With the CPU slowed 4× through the DevTools
protocol (Emulation.setCPUThrottlingRate, as a cheap phone), it opens the new-record form, fills it and taps
Save, several times. Measured: from the tap to the "saved on this phone" message (the budget), and from
starting to open the form to the form being ready (a note: the service worker answers from its copy after
a short wait instead of waiting for the network).

    .venv/bin/python bench/one_bar.py [--runs 5] [--json bench/results/one_bar.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import sqlalchemy as sa
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from app import create_app
from app.accounts.models import Organization, Role, User
from app.district.loading import load_district
from app.extensions import db
from app.species.sync import sync_registry

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
BUDGET_SECONDS = 2.0
CPU_SLOWDOWN = 4
PASSWORD = "one-bar-bench-1"  # noqa: S105 - a throw-away user in a throw-away database
PADDY = (30.6712, 107.8003)
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


def build(app: Any) -> None:
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        org = db.session.scalar(sa.select(Organization).where(Organization.code == "agriculture"))
        if org is None:
            raise SystemExit("the district did not load")
        db.session.add(
            User(
                username="onebar",
                display_name="调查员",
                email="onebar@example.cn",
                role=Role.SURVEYOR,
                organization_id=org.id,
                password_hash=generate_password_hash(PASSWORD),
                active=True,
            )
        )
        db.session.commit()
        db.session.remove()


def measure(base: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    saved: list[float] = []
    opened: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(base + "/sign-in")
        page.fill('input[name="username"]', "onebar")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(base + "/")
        page.wait_for_selector("html[data-offline-ready]", state="attached")
        page.goto(base + "/observations/new")  # opened once with signal, as a surveyor would
        page.wait_for_selector("form[data-ready]")

        held: list[Any] = []

        def hold(route: Any) -> None:
            held.append(route)  # one bar: nothing comes back

        context.route("**/*", hold)
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        for _run in range(runs):
            started = time.perf_counter()
            page.goto(base + "/observations/new", wait_until="commit")
            page.wait_for_selector("form[data-ready]")
            opened.append(time.perf_counter() - started)
            page.fill("[data-species-search]", "fsl")
            page.locator("[data-species-option]").first.click()
            page.wait_for_selector('form[data-gps="good"]')
            page.fill('input[name="density_per_m2"]', "5")
            started = time.perf_counter()
            page.click('button[type="submit"]')
            page.wait_for_selector('[data-form-result][data-state="pending"]')
            saved.append(time.perf_counter() - started)
            if page.locator('button[type="submit"]').is_disabled():
                raise SystemExit("Save stayed disabled after the record was saved on the phone")
        # The page's own outbox module, by its versioned name (the one the service worker keeps offline).
        waiting = page.evaluate(
            """import(document.querySelector('link[rel=modulepreload][href$="/js/outbox.js"]').href)
                .then((o) => o.all()).then((a) => a.length)"""
        )
        context.unroute_all(behavior="ignoreErrors")
        context.close()
        browser.close()
    if waiting != runs:
        raise SystemExit(f"{waiting} records wait on the phone after {runs} saves")
    return {
        "saved_median_s": round(statistics.median(saved), 3),
        "saved_max_s": round(max(saved), 3),
        "open_median_s": round(statistics.median(opened), 3),
        "open_max_s": round(max(opened), 3),
        "runs": runs,
        "waiting_in_outbox": waiting,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # SQLite: the server is never reached while it is measured; the database only serves the sign-in.
        config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "IAS_STORAGE_DIR": tmp}
        app = create_app({**config, "MAIL_SERVER": None})
        build(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            result = measure(f"http://127.0.0.1:{server.server_port}", args.runs)
        finally:
            server.shutdown()
            thread.join(5)
    result.update(
        benchmark="one_bar",
        budget_seconds=BUDGET_SECONDS,
        cpu_slowdown=CPU_SLOWDOWN,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
