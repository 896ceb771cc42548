"""Published conformance reports: `conformance/reports/<suite version>/<organization>-<project>/`.

A published report is a `conformance-report.yaml` the suite wrote, copied unchanged (its
digest still holds) under a name made of the implementation's version and the mode it ran
in. Each implementation's folder has a README written from its reports: a table of them and
a "Reproduce" section with the commands that wrote each one. `report publish` adds a report
and rewrites that README; the project's tests check that every published report passes
`report check` and that every README is the one its reports give.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from receiver_conformance import paths, scenario_ids
from receiver_conformance.report import check, deviations, matrix

README = "README.md"
# From an implementation's folder (<root>/<suite version>/<org>-<project>/) to docs/flux.md.
FLUX_DOCS = "../../../../docs/flux.md"
REPORT_SUFFIX = "-report.yaml"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PublishError(Exception):
    """A report that cannot be published; the message says why."""


@dataclass(frozen=True)
class Published:
    """Where a report lives among the published ones, relative to their root."""

    folder: Path
    name: str

    @property
    def path(self) -> Path:
        return self.folder / self.name


def _part(text: object) -> str:
    """A name part safe for a path: letters, digits, dot, dash, underscore."""
    return _UNSAFE.sub("-", str(text)).strip("-.") or "unknown"


def place(report: Mapping[str, Any]) -> Published:
    """The folder and file name a report is published under."""
    impl = report["implementation"]
    folder = Path(_part(report["suite"]["version"])) / (
        f"{_part(impl.get('organization'))}-{_part(impl.get('project'))}")
    mode = report.get("mode") or {}
    where = "-".join(_part(p) for p in (mode.get("target"), mode.get("receiver")) if p)
    return Published(folder, f"{_part(impl.get('version'))}-{where}{REPORT_SUFFIX}")


def load(path: Path) -> dict[str, Any]:
    """A report file as the suite wrote it, or PublishError."""
    try:
        report = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PublishError(f"cannot read {path}: {' '.join(str(exc).split())}") from exc
    if not isinstance(report, dict):
        raise PublishError(f"{path} is not a conformance report")
    return report


def publish(source: Path, root: Path, profiles: Mapping[str, str | None]) -> Path:
    """Copy a report that passes `report check` under `root`, byte for byte, and rewrite its
    folder's README. Returns the published path."""
    report = load(source)
    found = check.problems(report, profiles)
    if found:
        raise PublishError(f"{source} does not pass report check: {'; '.join(found)}")
    where = place(report)
    folder = root / where.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / where.name).write_bytes(source.read_bytes())
    (folder / README).write_text(readme(folder), encoding="utf-8")
    return root / where.path


def reports_in(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file name, report) of every report in an implementation's folder, by name."""
    return [(path.name, load(path)) for path in sorted(folder.glob(f"*{REPORT_SUFFIX}"))]


def readme(folder: Path) -> str:
    """The README of an implementation's folder, from the reports in it."""
    reports = reports_in(folder)
    if not reports:
        raise PublishError(f"{folder} has no *{REPORT_SUFFIX}")
    impl = reports[-1][1]["implementation"]
    suite = reports[-1][1]["suite"]["version"]
    names = [p["name"] for _, r in reports for p in r["profiles"]]
    profiles = list(dict.fromkeys(names))
    lines = [
        f"# {impl.get('organization')}/{impl.get('project')}: conformance reports, "
        f"suite {suite}",
        "",
        "Written by `receiver-conformance report publish` from the reports beside it; "
        "publish again rather than edit.",
        "",
    ]
    if impl.get("url") or impl.get("contact"):
        lines += [f"- Implementation: {impl.get('url') or '-'}",
                  f"- Contact: {impl.get('contact') or '-'}", ""]
    header = ["Report", "Version", "Mode", "Result", *(p.capitalize() for p in profiles), "Date"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, report in reports:
        by_name = {p["name"]: p for p in report["profiles"]}
        cells = [f"[{name}]({name})", str(report["implementation"].get("version")),
                 _mode(report), report["result"],
                 *(_counts(by_name.get(p)) for p in profiles), str(report["date"])[:10]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_failures(reports), "## Reproduce", "",
              "Install the suite at the version and commit each report names, from a checkout "
              "of that commit:", "", "```sh", "pipx install '.[reference]'", "```", "",
              "then run, for each report:", ""]
    for name, report in reports:
        commit = report["suite"].get("commit") or "(not recorded)"
        lines += [f"`{name}` (suite {report['suite']['version']}, commit {commit}):", "",
                  "```sh", run_command(report), "```", ""]
    lines += ["The run writes `conformance-report.yaml` into its report directory; check and "
              "publish it with:", "", "```sh",
              "receiver-conformance report check conformance-report/conformance-report.yaml",
              "receiver-conformance report publish conformance-report/conformance-report.yaml", "```", ""]
    return "\n".join(lines)


def _mode(report: Mapping[str, Any]) -> str:
    mode = report.get("mode") or {}
    receiver = mode.get("receiver")
    return f"{mode.get('target')}" + (f", receiver {receiver}" if receiver else "")


def _counts(profile: Mapping[str, Any] | None) -> str:
    if profile is None:
        return "-"
    stats = profile["statistics"]
    return ", ".join(f"{stats[k]} {k}" for k in check.COUNTED if stats.get(k))


def _failures(reports: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The failed scenarios of each report, by id, with the cause the project knows."""
    known = deviations.load(paths.FLUX_DEVIATIONS)
    changes = matrix.load_changes(paths.FLUX_RELEASE_CHANGES)
    lines: list[str] = []
    for name, report in reports:
        failed = [ref for p in report["profiles"] for ref in p.get("failedScenarios") or []]
        if failed:
            lines += [f"Failed in `{name}`:", ""]
            lines += [f"- `{ref.get('id')}`: {ref.get('scenario')}"
                      + _cause(report["implementation"], str(ref.get("id")), known, changes)
                      for ref in failed]
            lines.append("")
    return lines


def _cause(implementation: Mapping[str, Any], failed: str, known: list[deviations.Deviation],
           changes: list[matrix.Change]) -> str:
    """Why Flux fails a scenario: a known deviation, or a behaviour a later release changed."""
    if any(d.applies_to(dict(implementation)) and scenario_ids.selects(d.scenario, failed)
           for d in known):
        return f" (a [known deviation]({FLUX_DOCS}#where-flux-differs-and-why))"
    version = _release(implementation.get("version"))
    for change in changes:
        if (implementation.get("project") == "notification-controller"
                and scenario_ids.selects(change.scenario, failed)
                and version is not None and version < (_release(change.changed_in) or ())):
            return (f" (changed in {change.changed_in}: "
                    f"[the release matrix]({FLUX_DOCS}#flux-across-releases-the-release-matrix))")
    return ""


def _release(version: object) -> tuple[int, ...] | None:
    numbers = re.findall(r"\d+", str(version or ""))
    return tuple(int(n) for n in numbers) or None


def run_command(report: Mapping[str, Any]) -> str:
    """The `receiver-conformance run` command that wrote a report (an external target's
    receiver URL is the submitter's own: shown as a placeholder)."""
    mode = report.get("mode") or {}
    impl = report["implementation"]
    words = ["receiver-conformance", "run", "--target", str(mode.get("target"))]
    receiver = mode.get("receiver")
    if receiver:
        words += ["--receiver", str(receiver)]
    if receiver == "flux":
        words += ["--notification-controller", str(impl.get("version"))]
    if mode.get("target") == "external":
        words += ["--receiver-url", "URL"]
    selection = report.get("selection") or {}
    if selection.get("profile"):
        words += ["--profile", str(selection["profile"])]
    if selection.get("tags"):
        words += ["--tags", str(selection["tags"])]
    if receiver is None:
        words += ["--implementation", f"{impl.get('organization')}/{impl.get('project')}",
                  "--implementation-version", str(impl.get("version"))]
    for key in ("url", "contact"):
        if impl.get(key):
            words += [f"--implementation-{key}", str(impl[key])]
    return shlex.join(words)
