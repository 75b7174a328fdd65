"""Waiting for a condition in a page whose Content Security Policy forbids eval()."""

from __future__ import annotations

from typing import Any


def wait_until(page: Any, predicate: str, timeout_ms: int = 15_000) -> None:
    """Wait until the JavaScript function `predicate` (source text) returns true in the page.

    Not Playwright's wait_for_function: it re-evaluates its predicate with eval() while polling, which the
    app's Content Security Policy (no 'unsafe-eval') refuses whenever the first check is not already true.
    Here the predicate is part of the function Playwright compiles itself, and polling only calls it.
    """
    page.evaluate(
        f"""(timeout) => new Promise((resolve, reject) => {{
            const test = {predicate};
            const until = performance.now() + timeout;
            const check = () => {{
                if (test()) resolve(true);
                else if (performance.now() > until) reject(new Error("not true within " + timeout + " ms"));
                else requestAnimationFrame(check);
            }};
            check();
        }})""",
        timeout_ms,
    )
