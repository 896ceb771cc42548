"""``report.html``: one self-contained page, the guide as executable documentation.

A summary on top (implementation, target, counts, result badge, capabilities), then each
feature in the guide's order with its description, its scenarios and steps, each step's
result and time, and under a failure the evidence. No scripts, no outside resources.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from receiver_conformance.report import model

_CSS = """
:root { --pass:#1a7f37; --fail:#cf222e; --skip:#9a6700; --none:#6e7781; --line:#d0d7de;
  --soft:#f6f8fa; --ink:#1f2328; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:#fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 40px 0 6px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 0; display:flex; gap:10px; align-items:baseline; flex-wrap:wrap; }
code, pre { font: 13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
pre { background: var(--soft); border:1px solid var(--line); border-radius:6px; padding:10px 12px;
  overflow-x:auto; white-space: pre-wrap; word-break: break-word; margin: 6px 0; }
.subtitle { color: var(--none); margin: 0 0 18px; }
header.summary { display:grid; grid-template-columns: 1fr auto; gap: 18px; align-items:start;
  border:1px solid var(--line); border-radius:10px; padding:18px 20px; background:var(--soft); }
.badge { display:inline-block; font-weight:700; letter-spacing:.04em; color:#fff;
  border-radius:8px; padding:10px 18px; font-size:20px; text-align:center; }
.badge.success, .pill.passed { background: var(--pass); }
.badge.failure, .pill.failed { background: var(--fail); }
.badge.partial, .pill.skipped { background: var(--skip); }
.badge.not-run, .pill.not-run { background: var(--none); }
table.meta { border-collapse: collapse; }
table.meta th { text-align:left; font-weight:600; padding:2px 14px 2px 0; color:#424a53;
  vertical-align: top; white-space: nowrap; }
table.meta td { padding:2px 0; }
.counts { display:flex; gap:10px; margin-top:12px; flex-wrap:wrap; }
.count { border:1px solid var(--line); background:#fff; border-radius:8px; padding:6px 14px;
  min-width: 92px; }
.count b { display:block; font-size:22px; }
.count.passed b { color: var(--pass); } .count.failed b { color: var(--fail); }
.count.skipped b { color: var(--skip); }
.chips { display:flex; gap:6px; flex-wrap:wrap; }
.chip { font-size:12px; border-radius:12px; padding:1px 9px; border:1px solid var(--line);
  background:#fff; }
.chip.yes { border-color: var(--pass); color: var(--pass); }
.chip.no { border-color: var(--none); color: var(--none); text-decoration: line-through; }
.tag { font-size:12px; color:#0550ae; background:#ddf4ff; border-radius:12px; padding:1px 8px; }
nav.toc { margin: 22px 0 0; }
nav.toc ol { padding-left: 22px; margin: 6px 0; }
nav.toc a { color: #0969da; text-decoration: none; }
nav.toc .mini { color: var(--none); font-size: 13px; margin-left: 6px; }
nav.further { margin: 40px 0 0; padding-top: 12px; border-top: 2px solid var(--line); }
nav.further ul { padding-left: 22px; margin: 6px 0; }
nav.further a { color: #0969da; text-decoration: none; }
.description { white-space: pre-line; color:#424a53; margin: 4px 0 12px; }
.file { color: var(--none); font-size: 13px; }
section.scenario { border:1px solid var(--line); border-left:5px solid var(--none);
  border-radius:8px; padding:12px 16px; margin:14px 0; }
section.scenario.passed { border-left-color: var(--pass); }
section.scenario.failed { border-left-color: var(--fail); background:#fff8f8; }
section.scenario.skipped { border-left-color: var(--skip); }
.pill { color:#fff; font-size:12px; font-weight:700; border-radius:4px; padding:1px 7px;
  letter-spacing:.03em; }
.time { color: var(--none); font-size: 13px; margin-left:auto; }
ol.steps { list-style:none; padding:0; margin:10px 0 0; }
ol.steps > li { display:grid; grid-template-columns: 18px 1fr auto; gap: 8px; padding:3px 0;
  border-top: 1px dashed #eaeef2; }
ol.steps > li:first-child { border-top: 0; }
.kw { font-weight: 700; color:#8250df; }
.st { width: 14px; height: 14px; border-radius: 50%; margin-top: 4px; background: var(--none); }
.st.passed { background: var(--pass); } .st.failed { background: var(--fail); }
.st.skipped, .st.undefined { background: #fff; border: 2px solid var(--skip); }
.st.not-run { background: #fff; border: 2px solid var(--none); }
.steptime { color: var(--none); font-size: 12px; white-space: nowrap; }
.steperr { color: var(--fail); font-size: 13px; }
table.data { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
table.data td, table.data th { border:1px solid var(--line); padding: 2px 8px; }
table.data th { background: var(--soft); }
.note { border-radius:6px; padding:8px 12px; margin-top:10px; }
.note.skip { background:#fff8c5; border:1px solid #d4a72c; }
.note.fail { background:#ffebe9; border:1px solid #ff818266; }
.evidence h4 { margin: 10px 0 2px; font-size: 14px; }
footer { margin-top: 48px; color: var(--none); font-size: 13px; }
@media print { section.scenario { break-inside: avoid; } }
"""


def render_html(results: dict[str, Any], title: str = "Receiver conformance report",
                links: Sequence[tuple[str, str]] = ()) -> str:
    """The whole page as a string; `links` (label, address) become a "Further reading" list
    at its end."""
    groups = model.by_feature(results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="subtitle">{_subtitle(results)}</p>',
        _summary(results),
        _toc(groups),
    ]
    for index, (feature, scenarios) in enumerate(groups, start=1):
        parts.append(_feature(index, feature, scenarios))
    if links:
        parts.append(_further_reading(links))
    parts.append(
        "<footer>Generated by receiver-conformance. Secrets in evidence are masked; "
        "hook paths are cut to their first characters.</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _further_reading(links: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="{escape(address)}">{escape(label)}</a></li>'
                    for label, address in links)
    return f'<nav class="further"><b>Further reading</b><ul>{items}</ul></nav>'


def _summary(results: dict[str, Any]) -> str:
    run = results.get("run", {})
    counts = model.count(results["scenarios"])
    result = model.result_of(counts)
    impl = run.get("implementation", {})
    suite = run.get("suite", {})
    rows = [
        ("Implementation", _implementation(impl)),
        ("Target", escape(run.get("target") or "—")),
        ("Profile", escape(run.get("profile") or "—")),
        ("Tags", escape(run.get("tags") or "—")),
        ("Suite", escape(model.suite_label(suite))),
        ("Date", escape(run.get("date") or "—")),
        ("Wall time", escape(model.seconds(run.get("wall_time")))),
    ]
    if result == "not run":  # the guide rendered without a run: no run details to show
        rows = [row for row in rows if row[0] == "Suite"]
    supported, unsupported = model.capabilities(results)
    if supported or unsupported:
        chips = [f'<span class="chip yes">{escape(c)}</span>' for c in supported]
        chips += [
            f'<span class="chip no" title="not supported">{escape(c)}</span>' for c in unsupported
        ]
        rows.append(("Capabilities", f'<div class="chips">{"".join(chips)}</div>'))
    meta = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    if result == "not run":
        tiles = _tile("not-run", counts.not_run, "scenarios")
    else:
        tiles = "".join(
            [
                _tile("passed", counts.passed, "passed"),
                _tile("failed", counts.failed, "failed"),
                _tile("skipped", counts.skipped, "skipped"),
            ]
        )
    profiles = "".join(
        f'<span class="chip">{escape(name)}: {model.result_of(model.count(members))}</span>'
        for name, members in model.by_profile(results["scenarios"]).items()
        if result != "not run"
    )
    badge_text = "NOT RUN" if result == "not run" else result.upper()
    return (
        '<header class="summary"><div>'
        f'<table class="meta">{meta}</table>'
        f'<div class="counts">{tiles}</div>'
        f'<div class="chips" style="margin-top:10px">{profiles}</div>'
        "</div>"
        f'<div class="badge {_cls(result)}" role="status">{badge_text}</div>'
        "</header>"
    )


def _subtitle(results: dict[str, Any]) -> str:
    if model.result_of(model.count(results["scenarios"])) == "not run":
        return 'Flux "Setup Webhook Receivers" as scenarios; every step shown as not run.'
    return 'Flux "Setup Webhook Receivers", executed against a receiver.'


def _tile(cls: str, value: int, label: str) -> str:
    return f'<div class="count {cls}"><b>{value}</b>{escape(label)}</div>'


def _toc(groups: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> str:
    items = []
    for index, (feature, scenarios) in enumerate(groups, start=1):
        counts = model.count(scenarios)
        mini = (
            f"{counts.not_run} scenarios"
            if counts.not_run == counts.total
            else f"{counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped"
        )
        items.append(
            f'<li><a href="#feature-{index}">{escape(feature["name"])}</a>'
            f'<span class="mini">{escape(mini)}</span></li>'
        )
    return f'<nav class="toc"><b>Contents</b><ol>{"".join(items)}</ol></nav>'


def _feature(index: int, feature: dict[str, Any], scenarios: list[dict[str, Any]]) -> str:
    parts = [
        f'<article id="feature-{index}">',
        f"<h2>{index}. {escape(feature['name'])}</h2>",
        f'<div class="file">{escape(feature["file"])}</div>',
    ]
    if feature.get("description"):
        parts.append(f'<p class="description">{escape(feature["description"])}</p>')
    parts += [_scenario(scenario) for scenario in scenarios]
    parts.append("</article>")
    return "\n".join(parts)


def _scenario(scenario: dict[str, Any]) -> str:
    outcome = scenario["outcome"]
    tags = "".join(f'<span class="tag">@{escape(t)}</span> ' for t in scenario["tags"])
    if scenario.get("scenario_id"):
        tags = f'<code class="id">{escape(scenario["scenario_id"])}</code> ' + tags
    parts = [
        f'<section class="scenario {_cls(outcome)}">',
        f'<h3><span class="pill {_cls(outcome)}">{escape(_label(outcome))}</span>'
        f"<span>{escape(model.display_name(scenario))}</span>"
        f'<span class="time">{escape(model.seconds(scenario.get("duration")))}</span></h3>',
        f"<div>{tags}</div>",
    ]
    if scenario.get("description"):
        parts.append(f'<p class="description">{escape(scenario["description"])}</p>')
    parts.append('<ol class="steps">')
    parts += [_step(step) for step in scenario["steps"]]
    parts.append("</ol>")
    if scenario.get("timings"):
        rows = [list(row) for row in model.timing_rows(scenario)]
        parts.append(_table([["Measured", "Took", "Instead of"], *rows]))
    for examples in scenario.get("examples", []):
        parts.append(f"<div><b>Examples</b> {escape(examples.get('name') or '')}</div>")
        parts.append(_table([examples["header"], *examples["rows"]]))
    if outcome == "skipped":
        reason = scenario.get("skip_reason") or "no reason given"
        parts.append(f'<div class="note skip"><b>Skipped:</b> {escape(reason)}</div>')
    if outcome == "failed":
        parts.append(_failure(scenario))
    parts.append("</section>")
    return "\n".join(parts)


def _step(step: dict[str, Any]) -> str:
    status = step["status"]
    extra = ""
    if step.get("docstring") is not None:
        extra += f"<pre>{escape(step['docstring'])}</pre>"
    if step.get("datatable"):
        extra += _table(step["datatable"])
    if step.get("error"):
        extra += f'<div class="steperr">{escape(step["error"])}</div>'
    time = model.seconds(step["duration"]) if step.get("duration") is not None else status
    return (
        f'<li><span class="st {_cls(status)}" title="{escape(status)}"></span>'
        f'<div><span class="kw">{escape(step["keyword"])}</span> {escape(step["text"])}{extra}'
        f'</div><span class="steptime">{escape(time)}</span></li>'
    )


def _failure(scenario: dict[str, Any]) -> str:
    parts = [
        '<div class="note fail"><b>Failure</b>',
        f"<pre>{escape(scenario.get('error') or 'no error message')}</pre>",
        '<div class="evidence">',
    ]
    for item in scenario.get("evidence", []):
        body = item["body"]
        text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)
        parts.append(f"<h4>{escape(item['title'])}</h4><pre>{escape(text)}</pre>")
    parts.append("</div></div>")
    return "\n".join(parts)


def _table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    return f'<table class="data"><tr>{head}</tr>{body}</table>'


def _implementation(impl: dict[str, Any]) -> str:
    name = "/".join(p for p in (impl.get("organization"), impl.get("project")) if p) or "—"
    text = escape(name)
    if impl.get("version"):
        text += f" <code>{escape(impl['version'])}</code>"
    url = impl.get("url")
    if url and url.startswith(("https://", "http://")):
        text += f' <a href="{escape(url, quote=True)}">{escape(url)}</a>'
    elif url:
        text += f" {escape(url)}"
    return text


def _label(outcome: str) -> str:
    return {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}.get(outcome, "NOT RUN")


def _cls(status: str) -> str:
    return status.replace(" ", "-")
