"""The published reports (conformance/reports/): each passes `report check`, lives where
`report publish` puts it, and each folder's README is the one its reports give. Then
`report publish` itself: a checked copy, byte for byte; an edited report refused."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver_conformance.report import conformance, published
from tests.checkout import REPO_ROOT
from tests.test_report_check import PROFILES, _results

ROOT = REPO_ROOT / "conformance" / "reports"
PUBLISHED = sorted(ROOT.glob(f"*/*/*{published.REPORT_SUFFIX}"))
# What the project publishes itself: the reference, and Flux's receiver at these releases.
EXPECTED = {("receiver-conformance", "reference"): 1,
            ("fluxcd", "notification-controller"): 4}


def _write(tmp_path: Path, report: dict[str, Any], name: str = "conformance-report.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(report, sort_keys=False), encoding="utf-8")
    return path


def test_the_project_publishes_the_reference_and_flux_releases() -> None:
    found = Counter((r["implementation"]["organization"], r["implementation"]["project"])
                    for r in map(published.load, PUBLISHED))
    assert dict(found) == EXPECTED
    flux = {published.load(p)["implementation"]["version"] for p in PUBLISHED
            if "notification-controller" in p.parent.name}
    assert flux == {"v1.5.0", "v1.6.0", "v1.9.2", "v1.9.3"}


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_published_report_passes_check_where_publish_puts_it(path: Path) -> None:
    report = published.load(path)
    from receiver_conformance.report import check

    assert check.problems(report, PROFILES) == []
    assert path.relative_to(ROOT) == published.place(report).path


@pytest.mark.parametrize("folder", sorted({p.parent for p in PUBLISHED}),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_a_folder_readme_is_the_one_its_reports_give(folder: Path) -> None:
    assert (folder / published.README).read_text(encoding="utf-8") == published.readme(folder)


def test_publish_copies_a_checked_report_and_writes_the_readme(tmp_path: Path) -> None:
    source = _write(tmp_path, conformance.conformance_report(_results()))
    root = tmp_path / "reports"
    path = published.publish(source, root, PROFILES)
    assert path == root / "0.2.0" / "acme-hooks" / "1.0.0-external-report.yaml"
    assert path.read_bytes() == source.read_bytes()
    readme = (path.parent / "README.md").read_text()
    assert "| [1.0.0-external-report.yaml](1.0.0-external-report.yaml) | 1.0.0 | external |" \
        " failure |" in readme
    assert "- `token-rotation`: " in readme
    assert ("receiver-conformance run --target external --receiver-url URL --profile all "
            "--implementation acme/hooks --implementation-version 1.0.0") in readme


@pytest.mark.parametrize(("version", "failed", "cause"), [
    ("v1.9.2", "limit-body-over-3mib", "(changed in v1.9.3: [the release matrix]"),
    ("v1.9.3", "log-no-secrets", "(a [known deviation]"),
    ("v1.9.3", "limit-body-over-3mib", None),  # no cause the project knows: none given
])
def test_flux_failures_name_their_cause(tmp_path: Path, version: str, failed: str,
                                        cause: str | None) -> None:
    results = _results()
    results["run"]["implementation"] = {"organization": "fluxcd",
                                        "project": "notification-controller", "version": version}
    for scenario in results["scenarios"]:
        scenario["outcome"] = "failed" if scenario["scenario_id"] == failed else "passed"
    source = _write(tmp_path, conformance.conformance_report(results))
    path = published.publish(source, tmp_path / "reports", PROFILES)
    [line] = [x for x in (path.parent / "README.md").read_text().splitlines()
              if x.startswith(f"- `{failed}`")]
    if cause is None:
        assert "changed in" not in line and "known deviation" not in line
    else:
        assert cause in line


def test_publish_keeps_names_inside_the_root(tmp_path: Path) -> None:
    results = _results()
    results["run"]["implementation"] = {"organization": "../..", "project": "a/b c",
                                        "version": "../1"}
    source = _write(tmp_path, conformance.conformance_report(results))
    path = published.publish(source, tmp_path / "reports", PROFILES)
    assert path == tmp_path / "reports" / "0.2.0" / "unknown-a-b-c" / "1-external-report.yaml"


@pytest.mark.parametrize(("edit", "line"), [
    (lambda r: r["results"][0].update(outcome="failed"), "the digest does not match"),
    (lambda r: r.update(suite={"version": "9.9.9"}), "suite version '9.9.9'"),
], ids=["edited-outcome", "unknown-suite-version"])
def test_publish_refuses_a_report_that_fails_check(tmp_path: Path, edit: Any, line: str) -> None:
    report = copy.deepcopy(conformance.conformance_report(_results()))
    edit(report)
    source = _write(tmp_path, report)
    root = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "receiver_conformance.cli", "report", "publish", str(source),
         "--into", str(root)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not pass report check" in lines[0] and line in lines[0]
    assert not root.exists()
