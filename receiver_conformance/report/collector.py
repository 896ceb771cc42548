"""pytest plugin that records each scenario's steps and outcome into ``results.json``.

Enabled with ``-p receiver_conformance.report.collector``. Options:

``--results-json PATH``  where to write the results (nothing is written without it)
``--live-fd N``          a file descriptor that gets one line per finished scenario

The lead's target plugin may call :func:`record_target` so the results name the target
and its capabilities; without it the report infers them from the scenarios' outcomes.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _pytest.junitxml import xml_key
from pytest_bdd.parser import Feature, Scenario, ScenarioTemplate, Step
from pytest_bdd.scenario import scenario_wrapper_template_registry

from receiver_conformance import distribution, scenario_ids
from receiver_conformance.redaction import redact_data
from receiver_conformance.report import evidence, model, timings

try:  # what pytest-bdd's cucumber.json reads of each report, kept beside it by the report
    from pytest_bdd.reporting import ReportContext, test_report_context_registry
except ImportError:  # another pytest-bdd: cucumber.json of a run with --workers stays empty
    ReportContext = None  # type: ignore[assignment,misc]

RESULTS_SCHEMA = 1

_STEPS_KEY = pytest.StashKey[list[dict[str, Any]]]()
_SCENARIO_KEY = pytest.StashKey[Scenario]()
_REPORTS_KEY = pytest.StashKey[list[pytest.TestReport]]()
_TARGET_KEY = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("receiver-conformance report")
    group.addoption("--results-json", default=None, help="write scenario results to this file")
    group.addoption("--live-fd", type=int, default=None, help="write a line per scenario here")


def record_target(
    config: pytest.Config,
    name: str,
    capabilities: set[str] | frozenset[str],
    details: dict[str, str] | None = None,
) -> None:
    """Name the target the scenarios run against, for the report."""
    config.stash[_TARGET_KEY] = {
        "name": name,
        "capabilities": sorted(capabilities),
        "details": dict(details or {}),
    }


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--results-json", default=None)
    live_fd = config.getoption("--live-fd", default=None)
    if path or live_fd is not None:
        if hasattr(config, "workerinput"):  # a worker of --workers: it records, the controller writes
            path, live_fd = None, None
        config.pluginmanager.register(ResultsCollector(config, path, live_fd), "rc-results")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """junit.xml names the suite's version and commit, as every other report does."""
    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("receiver-conformance.version", distribution.version())
        xml.add_global_property("receiver-conformance.commit", distribution.commit() or "")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # outermost: after pytest-bdd's own
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """In a worker of --workers, put pytest-bdd's context for cucumber.json on the report
    itself, so that it reaches the controller with it (after pytest-bdd has made it)."""
    outcome = yield
    report = outcome.get_result()
    if ReportContext is not None and hasattr(item.config, "workerinput"):
        context = test_report_context_registry.get(report)
        if context is not None:
            report.rc_bdd = {"scenario": context.scenario, "name": context.name}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In the controller, give pytest-bdd back the context a worker's report carries."""
    carried = getattr(report, "rc_bdd", None)
    if carried and ReportContext is not None and report not in test_report_context_registry:
        test_report_context_registry[report] = ReportContext(**carried)


class ResultsCollector:
    """Gathers scenario results during the session and writes them at its end."""

    def __init__(self, config: pytest.Config, path: str | None, live_fd: int | None) -> None:
        self.config = config
        self.path = Path(path) if path else None
        self.live = os.fdopen(live_fd, "w", buffering=1, encoding="utf-8") if live_fd else None
        self.scenarios: list[dict[str, Any]] = []
        self.features: dict[str, dict[str, Any]] = {}
        self.started = datetime.now(UTC)
        self.clock = time.monotonic()
        self.counted = False
        self.order: dict[str, int] = {}  # each scenario's place in the collection
        self.orders: dict[str, int] = {}  # the same, of the scenarios recorded here

    # pytest-bdd hooks: one record per step, in the order they ran.

    @pytest.hookimpl
    def pytest_bdd_before_scenario(
        self, request: pytest.FixtureRequest, feature: Feature, scenario: Scenario
    ) -> None:
        request.node.stash[_SCENARIO_KEY] = scenario
        request.node.stash[_STEPS_KEY] = []

    @pytest.hookimpl
    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, step: Step) -> None:
        steps = request.node.stash.setdefault(_STEPS_KEY, [])
        steps.append({"line": step.line_number, "status": "running", "start": time.monotonic()})

    @pytest.hookimpl
    def pytest_bdd_after_step(self, request: pytest.FixtureRequest) -> None:
        self._finish_step(request.node, "passed")

    @pytest.hookimpl
    def pytest_bdd_step_error(self, request: pytest.FixtureRequest, exception: Exception) -> None:
        self._finish_step(request.node, "failed", exception)

    @pytest.hookimpl
    def pytest_bdd_step_func_lookup_error(
        self, request: pytest.FixtureRequest, step: Step, exception: Exception
    ) -> None:
        steps = request.node.stash.setdefault(_STEPS_KEY, [])
        steps.append(
            {
                "line": step.line_number,
                "status": "undefined",
                "duration": 0.0,
                "error": f"no step definition matches: {step.keyword} {step.name}",
            }
        )

    def _finish_step(self, item: pytest.Item, status: str, exc: Exception | None = None) -> None:
        steps = item.stash.get(_STEPS_KEY, [])
        if not steps or steps[-1]["status"] != "running":
            return
        current = steps[-1]
        current["status"] = status
        current["duration"] = time.monotonic() - current.pop("start")
        if exc is not None:
            current["error"] = _one_line(exc)

    # pytest hooks: outcome per test item.

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        """The scenario's record rides on its teardown report, which pytest-xdist carries
        from a worker to the controller as it does the outcome."""
        outcome = yield
        report = outcome.get_result()
        item.stash.setdefault(_REPORTS_KEY, []).append(report)
        template = _template_of(item)
        if call.when == "teardown" and template is not None:  # else not a scenario
            report.rc_scenario = self._record(item, template)
            report.rc_feature = feature_record(template.feature)
            report.rc_order = self.order.get(item.nodeid, len(self.order))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "rc_scenario", None)
        if record is None:
            return
        feature = report.rc_feature
        self.features.setdefault(feature["file"], feature)
        self.scenarios.append(record)
        self.orders[record["id"]] = report.rc_order
        self._print_live(record)

    def _record(self, item: pytest.Item, template: ScenarioTemplate) -> dict[str, Any]:
        reports = item.stash.get(_REPORTS_KEY, [])
        outcome, skip_reason, error = _outcome(reports)
        example = _example_of(item)
        scenario = item.stash.get(_SCENARIO_KEY, None) or template.render(example)
        feature = template.feature
        return {
            "id": item.nodeid,
            "scenario_id": scenario_ids.of_run(scenario_ids.of_tags(template.tags), example),
            "feature": feature.name,
            "feature_file": feature.rel_filename,
            "name": scenario.name,
            "description": scenario.description.strip(),
            "line": scenario.line_number,
            "tags": scenario_ids.other_tags(template.tags | feature.tags),
            "example": scenario_ids.without_row_id(example),
            "steps": _steps(scenario.steps, item.stash.get(_STEPS_KEY, []), outcome),
            "outcome": outcome,
            "duration": round(sum(r.duration for r in reports), 4),
            "skip_reason": skip_reason,
            "error": error,
            "evidence": evidence.collected(item) if outcome == "failed" else [],
            "timings": timings.collected(item),
        }

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Tell the CLI how many scenarios will run, for its counter."""
        self.order = {item.nodeid: index for index, item in enumerate(session.items)}
        self._send({"event": "collected", "total": len(session.items)})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """With --workers, every worker collects the same scenarios: count them once."""
        if not self.counted:
            self.counted = True
            self._send({"event": "collected", "total": len(ids)})

    def _print_live(self, record: dict[str, Any]) -> None:
        self._send(redact_data(live_event(record)))

    def _send(self, event: object) -> None:
        if self.live is None:
            return
        with contextlib.suppress(OSError):
            self.live.write(json.dumps(event) + "\n")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.path is not None:
            results = {
                "schema": RESULTS_SCHEMA,
                "started": self.started.isoformat(timespec="seconds"),
                "duration": round(time.monotonic() - self.clock, 3),
                "pytest_exit_status": int(exitstatus),
                "target": self.config.stash.get(_TARGET_KEY, None),
                "features": sorted(self.features.values(), key=lambda f: f["file"]),
                # In collection order, however many workers ran them.
                "scenarios": sorted(self.scenarios, key=lambda r: self.orders[r["id"]]),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(redact_data(results), indent=2, ensure_ascii=False)
                                 + "\n")
        if self.live is not None:
            with contextlib.suppress(OSError):
                self.live.close()


def feature_record(feature: Feature) -> dict[str, Any]:
    """The parts of a feature the report shows."""
    return {
        "file": feature.rel_filename,
        "name": feature.name,
        "description": feature.description.strip(),
        "tags": sorted(feature.tags),
        "line": feature.line_number,
    }


def step_record(step: Step, status: str, duration: float | None = None) -> dict[str, Any]:
    """One step as the report shows it."""
    record: dict[str, Any] = {
        "keyword": step.keyword.strip(),
        "text": step.name,
        "line": step.line_number,
        "status": status,
        "duration": round(duration, 4) if duration is not None else None,
    }
    if step.docstring is not None:
        record["docstring"] = step.docstring
    if step.datatable is not None:
        record["datatable"] = [[cell.value for cell in row.cells] for row in step.datatable.rows]
    return record


def live_event(record: dict[str, Any]) -> dict[str, Any]:
    """The few fields the CLI prints as a scenario finishes."""
    return {
        "event": "scenario",
        "feature": record["feature"],
        "name": model.display_name(record),
        "outcome": record["outcome"],
        "duration": record["duration"],
        "skip_reason": record["skip_reason"],
        "error": record["error"],
    }


def _steps(steps: list[Step], ran: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    """Each step with the status it reached; steps never reached are 'skipped'."""
    records = []
    for index, step in enumerate(steps):
        if index < len(ran):
            state = ran[index]
            status = "failed" if state["status"] == "running" else state["status"]
            record = step_record(step, status, state.get("duration"))
            if "error" in state:
                record["error"] = state["error"]
        else:
            record = step_record(step, "skipped")
        records.append(record)
    return records


def _outcome(reports: list[pytest.TestReport]) -> tuple[str, str | None, str | None]:
    """(outcome, skip reason, error) from the setup, call and teardown reports."""
    for report in reports:
        if report.failed:
            return "failed", None, _error_text(report)
    for report in reports:
        if report.skipped:
            return "skipped", _skip_reason(report), None
    if not reports:
        return "failed", None, "the scenario did not run"
    return "passed", None, None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return str(longrepr)


def _error_text(report: pytest.TestReport) -> str:
    phase = "" if report.when == "call" else f"error in {report.when}: "
    crash = getattr(report.longrepr, "reprcrash", None)
    summary = crash.message if crash is not None else str(report.longrepr)
    return phase + summary.strip()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class JunitNames:
    """In junit.xml, a scenario's classname is its feature's name (not the module that binds
    every feature), so a CI's test view groups the scenarios by feature, and a property
    `scenario_id` gives its stable id; in every run, bare pytest included.

    The names are learnt at collection and given to junit's reporter only once pytest
    reports a phase of the test: a session that ends before a scenario starts (a target that
    does not start) leaves no nameless test case behind."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.features: dict[str, str] = {}  # nodeid -> feature name

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            template = _template_of(item)
            if template is None:
                continue
            self.features[item.nodeid] = template.feature.name
            scenario_id = run_id(item)
            if scenario_id:
                item.user_properties.append(("scenario_id", scenario_id))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        xml = self.config.stash.get(xml_key, None)
        feature = self.features.get(report.nodeid)
        if xml is not None and feature is not None and report.when == "setup":
            xml.node_reporter(report).add_attribute("classname", feature)


def _template_of(item: pytest.Item) -> ScenarioTemplate | None:
    obj: Callable[..., object] | None = getattr(item, "obj", None)
    if obj is None:
        return None
    try:
        return scenario_wrapper_template_registry.get(obj)
    except TypeError:
        return None


def is_bdd(item: pytest.Item) -> bool:
    """Whether `item` runs a Gherkin scenario (not a plain test)."""
    return _template_of(item) is not None


def run_id(item: pytest.Item) -> str | None:
    """The stable id of a collected scenario run (receiver_conformance.scenario_ids), or
    None for a plain test."""
    template = _template_of(item)
    if template is None:
        return None
    return scenario_ids.of_run(scenario_ids.of_tags(template.tags), _example_of(item))


def _example_of(item: pytest.Item) -> dict[str, str]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {}
    example = callspec.params.get("_pytest_bdd_example", {})
    return dict(example) if isinstance(example, dict) else {}
