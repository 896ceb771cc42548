"""report.html: structure, self-containment, and a real render in headless Chromium."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from receiver_conformance.controlplane.processes import stop_process
from receiver_conformance.report import model
from receiver_conformance.report.html import render_html

RECORDED = Path(__file__).parent / "data" / "recorded_run" / "results.json"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary on PATH (Debian package: chromium)"
)


@pytest.fixture
def results() -> dict[str, Any]:
    return model.load_results(RECORDED)


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the page's visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def with_class(self, cls: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if cls in a.get("class", "").split()]


def parse(page: str) -> _Elements:
    elements = _Elements()
    elements.feed(page)
    return elements


def test_summary_comes_first_with_badge_and_counts(results: dict[str, Any]) -> None:
    page = render_html(results)
    summary = page.index('class="summary"')
    assert summary < page.index("<article")
    header = page[summary : page.index("</header>")]
    assert 'class="badge failure"' in header
    assert "example/reference-receiver" in header
    assert ">embedded<" in header
    assert '<div class="count passed"><b>4</b>' in header
    assert '<div class="count failed"><b>2</b>' in header
    assert '<div class="count skipped"><b>2</b>' in header


def test_features_follow_in_file_order_with_every_scenario(results: dict[str, Any]) -> None:
    html = render_html(results)
    page = parse(html)
    articles = [a["id"] for tag, a in page.tags if tag == "article"]
    assert articles == ["feature-1", "feature-2", "feature-3"]
    headings = re.findall(r"<h2>(\d+)\. ([^<]+)</h2>", html)
    assert headings == [(str(i), f["name"]) for i, f in enumerate(results["features"], start=1)]
    assert len(page.with_class("scenario")) == len(results["scenarios"])
    assert len(page.with_class("failed")) >= 2


def test_failure_shows_the_evidence_and_skips_show_their_reason(results: dict[str, Any]) -> None:
    page = render_html(results)
    assert "the Receiver&#x27;s status observed" in page
    assert "the request sent" in page
    assert "expected status 400, got 200" in page
    assert page.count('class="note skip"') == 2
    assert "lacks capability network-policy-enforcement" in page


def test_steps_show_docstrings_tables_and_status(results: dict[str, Any]) -> None:
    page = parse(render_html(results))
    steps = sum(len(s["steps"]) for s in results["scenarios"])
    assert len(page.with_class("st")) == steps
    assert len(page.with_class("kw")) == steps
    text = "".join(page.text)
    assert "name: webhook-token" in text  # the Secret manifest given as a docstring
    assert "X-Hub-Signature-256" in text  # the data table


def test_text_from_results_is_escaped(results: dict[str, Any]) -> None:
    hostile = copy.deepcopy(results)
    hostile["scenarios"][0]["name"] = "<script>alert(1)</script>"
    hostile["scenarios"][1]["evidence"][0]["body"] = "</pre><img src=x onerror=alert(1)>"
    page = render_html(hostile)
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page


def test_page_is_self_contained(results: dict[str, Any]) -> None:
    page = parse(render_html(results))
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "img"), tag
        if tag == "a":
            assert attrs["href"].startswith(("#", "https://example.invalid")), attrs
        assert "src" not in attrs, (tag, attrs)
    assert "@import" not in render_html(results)
    assert "url(" not in render_html(results)


def test_further_reading_only_when_links_are_given(results: dict[str, Any]) -> None:
    assert "Further reading" not in render_html(results)
    page = render_html(results, links=[("Running <the suite>", "docs/running.md?a=1&b=2")])
    assert '<nav class="further"><b>Further reading</b>' in page
    assert '<a href="docs/running.md?a=1&amp;b=2">Running &lt;the suite&gt;</a>' in page
    assert page.index("Further reading") > page.index('<article id="feature-1">')


def test_docs_mode_marks_everything_not_run(results: dict[str, Any]) -> None:
    not_run = copy.deepcopy(results)
    not_run.pop("run")
    for scenario in not_run["scenarios"]:
        scenario["outcome"] = "not run"
        scenario["duration"] = None
        for step in scenario["steps"]:
            step["status"], step["duration"] = "not run", None
    page = render_html(not_run)
    assert 'class="badge not-run"' in page
    assert "NOT RUN" in page
    assert 'class="note fail"' not in page


# --- a real render in headless Chromium, watched over the DevTools protocol ---


@dataclass
class Rendered:
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""


_CHECKS_JS = """JSON.stringify({
  scenarios: document.querySelectorAll('section.scenario').length,
  badge: getComputedStyle(document.querySelector('.badge')).backgroundColor,
  width: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight,
})"""


def render_in_chromium(page: Path, profile_dir: Path, deadline_s: float = 60.0) -> Rendered:
    """Open page in a fresh headless Chromium; report console errors, checks, a screenshot."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}",
        "--remote-debugging-port=0", "--window-size=1200,900", "about:blank",
    ]  # fmt: skip
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port = _devtools_port(profile_dir, browser, time.monotonic() + deadline_s)
        return asyncio.run(asyncio.wait_for(_drive(port, page), deadline_s))
    finally:
        stop_process(browser, grace=10)


def _devtools_port(profile_dir: Path, browser: subprocess.Popen[bytes], deadline: float) -> int:
    marker = profile_dir / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            stderr = browser.stderr.read().decode(errors="replace") if browser.stderr else ""
            raise RuntimeError(f"chromium exited {browser.returncode}: {stderr[-500:]}")
        lines = marker.read_text().splitlines() if marker.is_file() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)  # polling a file chromium writes, under the deadline above
    raise TimeoutError("chromium did not open its DevTools port")


async def _drive(port: int, page: Path) -> Rendered:
    rendered = Rendered()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with http.ws_connect(url, max_msg_size=0) as ws:
            session = _Session(ws, rendered)
            for method in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                await session.call(method)
            await session.call("Page.navigate", url=page.as_uri())
            await session.wait_event("Page.loadEventFired")
            result = await session.call(
                "Runtime.evaluate", expression=_CHECKS_JS, returnByValue=True
            )
            rendered.checks = json.loads(result["result"]["value"])
            await session.call(
                "Emulation.setDeviceMetricsOverride",
                width=1200,
                height=min(int(rendered.checks["height"]), 8000),
                deviceScaleFactor=1,
                mobile=False,
            )
            shot = await session.call("Page.captureScreenshot", format="png")
            rendered.screenshot = base64.b64decode(shot["data"])
    return rendered


class _Session:
    """Numbered DevTools calls over one websocket; events are sorted as they arrive."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, rendered: Rendered) -> None:
        self.ws = ws
        self.rendered = rendered
        self.next_id = 0
        self.seen: set[str] = set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def wait_event(self, name: str) -> None:
        while name not in self.seen:
            await self._receive()

    async def _receive(self) -> dict[str, Any]:
        message = await self.ws.receive_json()
        method = message.get("method")
        if method:
            self.seen.add(method)
            self._note(method, message.get("params", {}))
        return message

    def _note(self, method: str, params: dict[str, Any]) -> None:
        errors = self.rendered.console_errors
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params["args"]
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in args))
        elif method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                self.rendered.outside_requests.append(url)


@needs_chromium
def test_report_renders_in_chromium_without_console_errors(
    results: dict[str, Any], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(results), encoding="utf-8")
    rendered = render_in_chromium(page, tmp_path / "profile")
    assert rendered.console_errors == []
    assert rendered.outside_requests == []
    assert rendered.checks["scenarios"] == len(results["scenarios"])
    assert rendered.checks["badge"] == "rgb(207, 34, 46)"  # the failure red: the CSS applied
    assert rendered.checks["width"] <= 1200  # nothing overflows sideways
    assert rendered.screenshot.startswith(b"\x89PNG")
    (tmp_path / "report.png").write_bytes(rendered.screenshot)


@needs_chromium
def test_chromium_check_sees_console_errors(tmp_path: Path) -> None:
    """The console watch above can fail: a page that logs an error is caught."""
    page = tmp_path / "noisy.html"
    page.write_text(
        "<!DOCTYPE html><html><body><div class='badge'>x</div>"
        "<section class='scenario'></section>"
        "<script>console.error('broken on purpose')</script></body></html>"
    )
    rendered = render_in_chromium(page, tmp_path / "profile")
    assert rendered.console_errors == ["broken on purpose"]
