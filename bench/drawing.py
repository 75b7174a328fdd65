"""The area tool on a slow phone (docs/contract.md §5: 400 kbit/s, 400 ms round trip, CPU slowed 4×; the
new-record form usable ≤ 4 s). What loading the drawing plugin (Leaflet-Geoman, ~290 KB, ~75 KB compressed)
only when the tool is opened is worth, and what opening the tool then costs.

The same set-up as first_visit.py (gunicorn, a migrated database with the species and district, a signed-in
surveyor, a new browser context per visit: no HTTP cache, no service worker), three cold visits of the
new-record form each way:

- **lazy** (as shipped): the form as served; usable = capture.js marked the form ready;
- **eager**: the same page with the plugin's script and stylesheet added to it as a page that loaded the
  plugin up front would (a classic script before the page's modules, as Leaflet is), usable likewise;
- **open the tool**: on the lazy form once usable, a tap on "在地图上画" until the drawing mode is on
  (the plugin fetched, parsed and the map made), on the same throttled phone.

Each gunicorn worker is warmed up first (it compresses a file the first time it serves it), then the two
variants are measured in turn. The form's HTML is fetched through Playwright's route in both variants (so
both pay the same for it, which Chromium's throttling does not slow); everything it loads goes through the
throttled network.

    .venv/bin/python bench/drawing.py [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from database import fresh_database_url  # bench/ is on sys.path when a script here runs
from first_visit import CPU_SLOWDOWN, PHONE, SLOW_PHONE, _sign_in, build
from servers import app_env, gunicorn

CHROMIUM = "/usr/bin/chromium"
BUDGET_SECONDS = 4.0


def _page(html: str, eager: bool) -> str:
    if not eager:
        return html
    # The plugin's own files, named on the page by the area tool (data-geoman-js / data-geoman-css).
    js = html.split('data-geoman-js="', 1)[1].split('"', 1)[0]
    css = html.split('data-geoman-css="', 1)[1].split('"', 1)[0]
    html = html.replace("</head>", f'<link rel="stylesheet" href="{css}">\n</head>', 1)
    marker = '<script type="module"'
    at = html.rfind(marker)
    return html[:at] + f'<script src="{js}"></script>\n' + html[at:]


def visit(browser: Any, base: str, state: Any, *, eager: bool, open_tool: bool) -> dict[str, float]:
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

    def serve(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=_page(response.text(), eager))

    page.route(f"{base}/observations/new", serve)
    started = time.perf_counter()
    page.goto(f"{base}/observations/new", wait_until="commit")
    page.wait_for_selector("form[data-ready]", state="attached", timeout=120_000)
    usable = time.perf_counter() - started
    plugin = page.evaluate("() => Boolean(window.L && window.L.PM)")
    result = {"usable_seconds": usable, "kib": sum(transferred.values()) / 1024, "plugin_loaded": plugin}
    if open_tool:
        transferred.clear()
        started = time.perf_counter()
        page.click("[data-area-draw]")
        page.wait_for_selector('[data-area-tool][data-area-state="draw"]', timeout=120_000)
        result["open_tool_seconds"] = time.perf_counter() - started
        result["open_tool_kib"] = sum(transferred.values()) / 1024
    context.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ias-drawing-") as folder:
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
                # Warm-up, not measured: each gunicorn worker compresses a file once, at brotli's strongest
                # setting, the first time it serves it (app/main/assets.py); a deployed server has done so.
                for _ in range(3):
                    visit(browser, base, state, eager=False, open_tool=True)
                    visit(browser, base, state, eager=True, open_tool=False)
                lazy, eager = [], []
                for _ in range(args.runs):  # interleaved, so both see the same machine
                    lazy.append(visit(browser, base, state, eager=False, open_tool=True))
                    eager.append(visit(browser, base, state, eager=True, open_tool=False))
            finally:
                browser.close()

    if any(r["plugin_loaded"] for r in lazy) or not all(r["plugin_loaded"] for r in eager):
        raise SystemExit("the variants did not load what they should (lazy: no plugin; eager: the plugin)")
    record = {
        "workload": "drawing",
        "network": f"{SLOW_PHONE['downloadThroughput'] * 8 / 1000:.0f} kbit/s, "
        f"{SLOW_PHONE['latency']} ms RTT",
        "cpu_slowdown": CPU_SLOWDOWN,
        "runs": args.runs,
        "lazy_usable_seconds_median": statistics.median(r["usable_seconds"] for r in lazy),
        "lazy_kib": lazy[0]["kib"],
        "eager_usable_seconds_median": statistics.median(r["usable_seconds"] for r in eager),
        "eager_kib": eager[0]["kib"],
        "open_tool_seconds_median": statistics.median(r["open_tool_seconds"] for r in lazy),
        "open_tool_kib": lazy[0]["open_tool_kib"],
        "budget_seconds": BUDGET_SECONDS,
    }
    print(
        "new-record form usable on a slow phone: plugin loaded on demand "
        f"{record['lazy_usable_seconds_median']:.2f} s ({record['lazy_kib']:.0f} KiB), plugin loaded with "
        f"the page {record['eager_usable_seconds_median']:.2f} s "
        f"({record['eager_kib']:.0f} KiB); opening the tool then {record['open_tool_seconds_median']:.2f} s "
        f"({record['open_tool_kib']:.0f} KiB); budget {BUDGET_SECONDS:.0f} s",
        flush=True,
    )
    if args.json:
        with args.json.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
