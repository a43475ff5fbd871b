"""Where a UI page's time goes: the browser's start of the page, then its GraphQL queries.

Opens each page of the browser suite's timed set in headless Chromium (Playwright, as the
suite does) against a running webserver, each page twice (`--rounds`), and prints per page:
seconds to content, when the page sent its first GraphQL request (the browser's reload of the
UI's scripts before it), and its slowest query. Run by hand against `ovc dev` or a
`dagster-webserver` on an instance that holds the demo:

    .venv/bin/python benchmarks/bench_ui_pages.py http://127.0.0.1:3000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import time

from ovc_assets_tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, PAGE_TIMEOUT_MS
from ovc_assets_tests.ui.test_ui_browser import DEFAULT_CONFIGURATION_PAGES, LOCATION


def _operation(request) -> str:
    if "op=" in request.url:
        return request.url.split("op=")[-1]
    return json.loads(request.post_data or "{}").get("operationName") or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=args.url).new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        sent: dict = {}
        done: list[tuple[str, float, float]] = []
        page.on("request", lambda request: sent.setdefault(request, time.monotonic()) if "/graphql" in request.url else None)
        page.on("requestfinished", lambda r: done.append((_operation(r), sent[r], time.monotonic())) if r in sent else None)
        page.goto("/locations")  # the untimed first page, as in the suite
        page.get_by_text(LOCATION).first.wait_for(state="visible")
        print("| round | page | to content (s) | first query sent (s) | slowest query (s) |\n|---|---|---:|---:|---|")
        for round_number in range(args.rounds):
            for name, (path, ready) in DEFAULT_CONFIGURATION_PAGES.items():
                page.wait_for_timeout(1500)  # the previous page's late queries
                done.clear()
                started = time.monotonic()
                page.goto(path)
                ready(page).first.wait_for(state="visible")
                content = time.monotonic() - started
                first = min((s for _, s, _ in done), default=started) - started
                slowest = max(done, key=lambda d: d[2] - d[1], default=("-", 0.0, 0.0))
                print(f"| {round_number + 1} | {name} | {content:.2f} | {first:.2f} | {slowest[0]} {slowest[2] - slowest[1]:.2f} |")
        browser.close()


if __name__ == "__main__":
    main()
