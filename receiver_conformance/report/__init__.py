"""Run results and the reports written from them (YAML, Markdown, HTML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from receiver_conformance.report.conformance import render_yaml
from receiver_conformance.report.evidence import attach
from receiver_conformance.report.html import render_html
from receiver_conformance.report.markdown import render_markdown

__all__ = ["attach", "write_reports"]


def write_reports(results: dict[str, Any], report_dir: Path) -> list[Path]:
    """Write results.json, conformance-report.yaml, report.md and report.html; return them."""
    report_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "results.json": json.dumps(results, indent=2, ensure_ascii=False) + "\n",
        "conformance-report.yaml": render_yaml(results),
        "report.md": render_markdown(results),
        "report.html": render_html(results),
    }
    paths = []
    for name, text in outputs.items():
        path = report_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
