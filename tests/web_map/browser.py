"""Open a page in the system's headless Chromium and report what it did.

Test helper (not a test module). :func:`load_page` drives ``/usr/bin/chromium``
through the Python ``playwright`` package, whose bundled driver needs no browser
download, and returns a :class:`PageReport`: every request, failed requests
(network errors and HTTP status >= 400), requests to hosts other than loopback,
console errors, uncaught page errors, and the values of JavaScript expressions
evaluated once the page has settled.

Requests to other hosts are recorded and then aborted, so a page that would
reach for a CDN fails the test without the test itself going to the internet.
"""

from __future__ import annotations

import ipaddress
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 800}

# Schemes that never touch the network.
_LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-error", "javascript"})


@dataclass
class PageReport:
    """What happened while a page loaded.

    Attributes
    ----------
    url
        The URL that was opened.
    title
        ``document.title`` after load.
    requests
        Every request URL, in the order the page made them.
    failed_requests
        ``"METHOD url: reason"`` for network failures and HTTP errors.
    external_requests
        Request URLs whose host is not loopback (they were aborted).
    console_errors
        Text of ``console.error`` messages (including resource load errors).
    page_errors
        Uncaught JavaScript exceptions.
    results
        Value of each expression passed as ``evaluate``, by name.
    screenshot
        Path of the screenshot, if one was requested.
    """

    url: str
    title: str = ""
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        """All failures, external requests and errors, labelled; empty if clean."""
        return (
            [f"failed: {r}" for r in self.failed_requests]
            + [f"external: {r}" for r in self.external_requests]
            + [f"console: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
        )


def is_loopback_url(url: str) -> bool:
    """True if fetching ``url`` stays on this machine (loopback host or no network)."""
    parts = urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    host = parts.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wait_until_true(page: Page, expression: str, timeout_s: float = 30) -> None:
    """Poll ``expression`` until it is truthy.

    Not ``page.wait_for_function``: that evaluates the predicate with ``eval`` inside
    the page, which the service's Content-Security-Policy (rightly) forbids;
    ``page.evaluate`` goes through the DevTools protocol and is not subject to it.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} did not become true in {timeout_s} s")
        page.wait_for_timeout(100)


def _launch(p: Playwright, profile: str, timeout_ms: float, viewport: Mapping[str, int]):
    """The system Chromium with its own empty ``profile`` folder."""
    # A persistent context is Playwright's way to give Chromium our own empty
    # profile directory. Headless mode comes from CHROMIUM_ARGS, so Playwright's
    # own headless switch stays off.
    return p.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        args=list(CHROMIUM_ARGS),
        headless=False,
        viewport=dict(viewport),
        timeout=timeout_ms,
    )


def _record(page: Page, report: PageReport) -> None:
    """Abort requests to other hosts and note every request, failure and error in
    ``report``."""

    def on_route(route: Route) -> None:
        if is_loopback_url(route.request.url):
            route.continue_()
        else:
            report.external_requests.append(route.request.url)
            route.abort("blockedbyclient")

    def on_failed(request: Request) -> None:
        report.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def on_finished(request: Request) -> None:
        response = request.response()
        if response is not None and response.status >= 400:
            report.failed_requests.append(f"{request.method} {request.url}: {response.status}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            report.console_errors.append(message.text)

    page.route("**/*", on_route)
    page.on("request", lambda request: report.requests.append(request.url))
    page.on("requestfailed", on_failed)
    page.on("requestfinished", on_finished)
    page.on("console", on_console)
    page.on("pageerror", lambda error: report.page_errors.append(str(error)))


def load_page(
    url: str,
    *,
    timeout_s: float = 30,
    screenshot: Path | None = None,
    evaluate: Mapping[str, str] | None = None,
    wait_for: str | None = None,
    interact: Callable[[Page], None] | None = None,
    viewport: Mapping[str, int] | None = None,
) -> PageReport:
    """Open ``url`` in a fresh headless Chromium profile and report on it.

    Waits for the ``load`` event and then for the network to be idle (so late
    requests such as images referenced from CSS are seen), then optionally for
    ``wait_for`` to become truthy, then evaluates ``evaluate`` and takes the
    screenshot. The browser is closed before returning.

    Parameters
    ----------
    url
        Page to open.
    timeout_s
        Limit for each step (launch, navigation, network idle, ``wait_for``).
    screenshot
        Where to write a PNG of the viewport, if given.
    evaluate
        JavaScript expressions by name, e.g.
        ``{"paths": "document.querySelectorAll('.leaflet-interactive').length"}``;
        their JSON-serialisable values land in ``PageReport.results``.
    wait_for
        A JavaScript expression to wait for before evaluating.
    interact
        Called with the Playwright page once it has settled (clicks, drags…),
        before ``evaluate`` and the screenshot; requests it causes are recorded too.
    viewport
        ``{"width": …, "height": …}`` of the window (default :data:`VIEWPORT`).

    Raises
    ------
    FileNotFoundError
        If the system Chromium is not installed.
    playwright.sync_api.TimeoutError
        If the page does not load or settle in time.
    """
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} not found; install the chromium package")
    report = PageReport(url=url)
    timeout_ms = timeout_s * 1000
    with (
        tempfile.TemporaryDirectory(prefix="gridmap-chromium-") as profile,
        sync_playwright() as p,
    ):
        context = _launch(p, profile, timeout_ms, viewport or VIEWPORT)
        try:
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            _record(page, report)

            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            if wait_for is not None:
                wait_until_true(page, wait_for, timeout_s)
            if interact is not None:
                interact(page)
                page.wait_for_load_state("networkidle")
            report.title = page.title()
            for name, expression in (evaluate or {}).items():
                report.results[name] = page.evaluate(expression)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
                report.screenshot = screenshot
        finally:
            context.close()
    return report
