"""A first visit on a slow phone (contract §5 budget: the new-record form usable ≤ 4 s at 400 kbit/s, 400 ms
round trip, CPU slowed 4×; static files compressed and cached for a year by name).

Serves the app with gunicorn (production settings) on a migrated database with the species and district
loaded, signs a surveyor in with a browser, then opens the new-record form in a *new* browser context
that has only the sign-in cookie (no HTTP cache, no service worker: a first visit), with Chromium's own
throttling through the DevTools protocol (Network.emulateNetworkConditions, Emulation.setCPUThrottlingRate).
"Usable" is the form marked ready by capture.js (species data loaded, Save wired). A second visit in the
same context (files from the browser cache) is timed too, and every static response is checked for
compression and a year's caching.

    .venv/bin/python bench/first_visit.py [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import flask_migrate
import sqlalchemy as sa
from database import fresh_database_url  # bench/ is on sys.path when a script here runs
from servers import app_env, gunicorn
from werkzeug.security import generate_password_hash

from app import create_app
from app.accounts.models import Organization, Role, User
from app.district.loading import load_district
from app.extensions import db
from app.species.sync import sync_registry

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
BUDGET_SECONDS = 4.0
YEAR = 365 * 24 * 3600
SLOW_PHONE = {
    "offline": False,
    "latency": 400,  # ms round trip
    "downloadThroughput": 400_000 / 8,  # bytes/s
    "uploadThroughput": 400_000 / 8,
}
CPU_SLOWDOWN = 4
PASSWORD = "bench-first-visit-9d1c"  # noqa: S105 - a throw-away user in a throw-away database
PHONE = {
    "viewport": {"width": 360, "height": 780},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "geolocation": {"latitude": 30.6796, "longitude": 107.8123, "accuracy": 6},
    "permissions": ["geolocation"],
}


def build(url: str, storage: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "IAS_STORAGE_DIR": str(storage), "MAIL_SERVER": None})
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        org = db.session.scalar(sa.select(Organization).where(Organization.code == "forestry"))
        if org is None:
            raise SystemExit("the district and organizations did not load")
        db.session.add(
            User(
                username="phone",
                display_name="慢速手机",
                role=Role.SURVEYOR,
                organization_id=org.id,
                password_hash=generate_password_hash(PASSWORD),
                active=True,
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _sign_in(browser: Any, base: str) -> Any:
    """The sign-in cookie of a surveyor, from a context of its own (so the measured one starts cold)."""
    context = browser.new_context(**PHONE, service_workers="block")
    page = context.new_page()
    page.goto(f"{base}/sign-in")
    page.fill('input[name="username"]', "phone")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base}/")
    state = context.storage_state()
    context.close()
    return state


def visit(browser: Any, base: str, state: Any) -> dict[str, Any]:
    """One first visit and one second visit of the new-record form on a throttled phone."""
    # Service workers blocked: the measured visit is the first one, before any worker is installed.
    context = browser.new_context(**PHONE, storage_state=state, service_workers="block")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_PHONE)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    transferred: dict[str, float] = {}
    cdp.on(
        "Network.loadingFinished", lambda e: transferred.__setitem__(e["requestId"], e["encodedDataLength"])
    )
    statics: list[dict[str, Any]] = []

    def seen(response: Any) -> None:
        path = response.url.split("//", 1)[-1].split("/", 1)[-1]
        if path.startswith(("static/", "vendor/")) and response.status == 200:
            headers = response.headers
            statics.append(
                {
                    "path": "/" + path,
                    "encoding": headers.get("content-encoding"),
                    "cache_control": headers.get("cache-control", ""),
                    "type": headers.get("content-type", ""),
                    "bytes": int(headers.get("content-length") or 0),
                }
            )

    page.on("response", seen)
    started = time.perf_counter()
    page.goto(f"{base}/observations/new", wait_until="commit")
    page.wait_for_selector("form[data-ready]", state="attached", timeout=120_000)
    page.wait_for_function("!document.querySelector('form[data-ready] button[type=submit]').disabled")
    first = time.perf_counter() - started
    first_bytes = sum(transferred.values())
    first_statics = list(statics)

    transferred.clear()
    started = time.perf_counter()
    page.goto(f"{base}/observations/new", wait_until="commit")
    page.wait_for_selector("form[data-ready]", state="attached", timeout=120_000)
    second = time.perf_counter() - started
    second_bytes = sum(transferred.values())
    context.close()
    return {
        "first_seconds": first,
        "first_bytes": first_bytes,
        "second_seconds": second,
        "second_bytes": second_bytes,
        "statics": first_statics,
    }


def _compressible(kind: str) -> bool:
    return any(t in kind for t in ("javascript", "css", "svg", "html"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ias-first-visit-") as folder:
        storage = Path(folder)
        url = fresh_database_url(folder)
        build(url, storage)
        env = app_env(url, storage)
        with gunicorn("wsgi:app", env) as port, sync_playwright() as playwright:
            base = f"http://127.0.0.1:{port}"
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-quic"]
            )
            try:
                state = _sign_in(browser, base)
                runs = [visit(browser, base, state) for _ in range(args.runs)]
            finally:
                browser.close()

    firsts = [r["first_seconds"] for r in runs]
    statics = runs[0]["statics"]
    # Files under flask-compress's minimum (500 bytes, e.g. the icon) gain nothing from it.
    uncompressed = [
        s["path"] for s in statics if _compressible(s["type"]) and not s["encoding"] and s["bytes"] >= 500
    ]
    not_cached = [s["path"] for s in statics if f"max-age={YEAR}" not in s["cache_control"]]
    record = {
        "workload": "first_visit",
        "network": f"{SLOW_PHONE['downloadThroughput'] * 8 / 1000:.0f} kbit/s, "
        f"{SLOW_PHONE['latency']} ms RTT",
        "cpu_slowdown": CPU_SLOWDOWN,
        "runs": len(runs),
        "first_visit_seconds_median": statistics.median(firsts),
        "first_visit_seconds_worst": max(firsts),
        "first_visit_kib": runs[0]["first_bytes"] / 1024,
        "second_visit_seconds_median": statistics.median(r["second_seconds"] for r in runs),
        "second_visit_kib": runs[0]["second_bytes"] / 1024,
        "static_files": len(statics),
        "uncompressed": uncompressed,
        "not_cached_a_year": not_cached,
        "budget_seconds": BUDGET_SECONDS,
    }
    print(
        f"first visit: median {record['first_visit_seconds_median']:.2f} s, worst "
        f"{record['first_visit_seconds_worst']:.2f} s, {record['first_visit_kib']:.0f} KiB; second visit "
        f"{record['second_visit_seconds_median']:.2f} s, {record['second_visit_kib']:.0f} KiB; "
        f"{len(statics)} static files, uncompressed {uncompressed}, not cached a year {not_cached}",
        flush=True,
    )
    if args.json:
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
