"""The receiver-conformance command line: usage errors, preflight, list, docs, and a real run."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from receiver_conformance import distribution
from receiver_conformance.cli import FURTHER_READING, main
from receiver_conformance.invocation import pytest_argv
from receiver_conformance.report import verified
from receiver_conformance.report.runner import marker_expression
from tests.checkout import REPO_ROOT

CLI = [sys.executable, "-m", "receiver_conformance.cli"]

FEATURE = """\
Feature: GitHub receiver
  A signed push from GitHub makes Flux fetch the repository at once.

  @core @cap-api
  Scenario: a signed push annotates the GitRepository
    Given a Receiver of type github
      \"\"\"
      kind: Receiver
      \"\"\"
    When GitHub sends a signed push
    Then the GitRepository is annotated

  @core @cap-api @id:bad-signature
  Scenario: a bad signature is refused
    Given a Receiver of type github
    When GitHub sends a push signed with the wrong token
    Then the receiver answers 400

  @extended @cap-traffic
  Scenario: the push travels through the Ingress
    Given a Receiver of type github
    When GitHub sends a signed push
    Then the GitRepository is annotated

  @core @id:unlisted-events
  Scenario Outline: events outside spec.events are refused
    Given a Receiver of type github
    Then the receiver answers <status> to <event>

    Examples:
      | id      | event   | status |
      | ping    | ping    | 400    |
      | release | release | 400    |
"""

STEPS = """\
from pathlib import Path

from pytest_bdd import given, parsers, scenarios, then, when

from receiver_conformance.report.evidence import attach
from receiver_conformance.senders.token import generate_token, webhook_path

SENT = {}

scenarios(str(Path(__file__).parent / "features" / "github.feature"))


@given(parsers.parse("a Receiver of type {kind}"))
def receiver(kind):
    pass


@when("GitHub sends a signed push")
def push():
    pass


@when("GitHub sends a push signed with the wrong token")
def bad_push(request):
    token = generate_token()
    path = webhook_path(token, "webapp", "default")
    (Path(__file__).parent / "secrets.txt").write_text(token + " " + path)
    sent = {"path": "/hook/" + "a" * 64, "X-Hub-Signature-256": "sha256=" + "f" * 64,
            "data": {"token": token, "note": "made with " + token}}
    attach(request, "the request sent", sent)
    attach(request, "the receiver's log", "handling request: " + path[len("/hook/"):])
    print("sending to", path, "with", token)
    SENT.update(path=path, token=token)


@then("the GitRepository is annotated")
def annotated():
    pass


@then(parsers.parse("the receiver answers {status:d}"))
@then(parsers.parse("the receiver answers {status:d} to {event}"))
def answers(request, status, event="push"):
    got = 400 if event == "ping" else 200
    attach(request, "the response observed", f"HTTP {got}")
    assert got == status, f"expected {status}, got {got} from {SENT}"
"""

# The real plugin is loaded (its entry point); this stands in for its target, so that its
# capability gate skips the traffic scenario without starting a control plane.
CONFTEST = """\
from pathlib import Path

import pytest

from receiver_conformance.targets.base import Target


@pytest.fixture(scope="session")
def target():
    return Target("embedded", Path("/nonexistent"), "http://127.0.0.1:9", frozenset({"api"}))
"""

# Ignored: the suite's own configuration (-c) wins over any pytest.ini beside the steps.
PYTEST_INI = """\
[pytest]
addopts = --this-option-does-not-exist
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A tiny suite laid out like the real one: features/ and a steps module."""
    root = tmp_path / "suite"
    (root / "features").mkdir(parents=True)
    (root / "features" / "github.feature").write_text(FEATURE)
    (root / "test_github.py").write_text(STEPS)
    (root / "conftest.py").write_text(CONFTEST)
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


def one_line_error(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "error:" in lines[0]
    return lines[0]


# --- usage ---


@pytest.mark.parametrize("command", [[], ["run"], ["list"], ["docs"], ["cluster"]])
def test_help_on_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: receiver-conformance")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "--target", "nowhere"], "invalid choice: 'nowhere'"),
        (["run", "--profile"], "expected one argument"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
        (["list", "--features"], "expected one argument"),
        (["run", "--target", "external", "--capability", "telepathy"],
         "unknown capability 'telepathy'"),
        (["run", "--capability", "source-controller"], "--capability is for --target external"),
        (["run", "--no-probe"], "--no-probe is for --target external"),
        (["run", "--receiver-log", "/etc/hostname"], "--receiver-log is for --target external"),
        (["run", "--target", "external", "--receiver-log", "/nonexistent/receiver.log"],
         "--receiver-log /nonexistent/receiver.log: no such file"),
        (["run", "--target", "kind", "--kind-images", "pulled", "--notification-controller",
          "v1.6.0"], "--notification-controller is for --target flux, node or kind"),
        (["run", "--kind-images", "built"], "--kind-images is for --target kind"),
        (["run", "--target", "kind", "--kind-images", "anywhere"],
         "invalid choice: 'anywhere'"),
        (["run", "--target", "external", "--receiver", "flux"],
         "--receiver flux: --target external tests the receiver you run"),
        (["run", "--target", "flux", "--receiver", "reference"], "contradicts it"),
        (["run", "--receiver-url", "http://127.0.0.1:9292"],
         "--receiver-url is for --target external"),
        (["run", "--target", "kind", "--kind-images", "pulled",
          "--reference-arg=--no-cross-namespace-refs"],
         "--reference-arg is for the reference receiver on --target embedded, node or kind"),
        (["run", "--target", "flux", "--reference-arg=--no-cross-namespace-refs"],
         "--reference-arg is for the reference receiver on --target embedded, node or kind"),
        (["run", "--flux-deployment"],
         "--flux-deployment is for the reference receiver on --target node"),
        (["run", "--target", "flux", "--notification-controller", "v0.1.0"],
         "invalid choice: 'v0.1.0'"),
        (["matrix", "/nonexistent/run"], "/nonexistent/run"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], says: str) -> None:
    done = subprocess.run([*CLI, *argv], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 2
    assert says in one_line_error(done.stderr)
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"RC_TARGET": "nowhere"}, "RC_TARGET='nowhere': must be one of embedded, flux"),
        ({"RC_NO_PROBE": "maybe", "RC_TARGET": "external"}, "RC_NO_PROBE='maybe': expected"),
        ({"RC_RECEIVER_URL": "http://127.0.0.1:9292"}, "RC_RECEIVER_URL is for --target external"),
        ({"RC_TARGET": "kind", "RC_KIND_IMAGES": "pulled", "RC_NOTIFICATION_CONTROLLER": "v1.6.0"},
         "RC_NOTIFICATION_CONTROLLER is for --target flux, node or kind"),
        ({"RC_PROFILE": "most"}, "RC_PROFILE='most': must be one of core, extended, all"),
        ({"RC_TARGET": "external", "RC_KUBECONFIG": "/nonexistent/kubeconfig",
          "RC_RECEIVER_URL": "http://127.0.0.1:9"}, "/nonexistent/kubeconfig"),
        ({"RC_REFERENCE_ARGS": "'unbalanced"}, "RC_REFERENCE_ARGS: No closing quotation"),
        ({"RC_QUIET_PERIOD": "soon"}, "RC_QUIET_PERIOD='soon': expected a number of seconds"),
        ({"RC_NAMESPACES_GONE_TIMEOUT": "2m"}, "RC_NAMESPACES_GONE_TIMEOUT='2m': expected"),
    ],
)
def test_a_bad_rc_variable_is_one_line_and_exit_2(environ: dict[str, str], says: str) -> None:
    """`run` reads its RC_* variables: a bad one is named, as a bad flag would be."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    done = subprocess.run([*CLI, "run"], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**env, **environ}, timeout=60)
    assert done.returncode == 2, done.stdout[-2000:]
    assert says in one_line_error(done.stderr)


def test_an_unknown_capability_in_the_environment_is_exit_2() -> None:
    done = subprocess.run([*CLI, "run", "--target", "external"], capture_output=True, text=True,
                          cwd=REPO_ROOT, env={**os.environ, "RC_CAPABILITIES": "traffic,bogus"})
    assert done.returncode == 2
    assert "unknown capability 'bogus'" in one_line_error(done.stderr)


def test_bare_pytest_refuses_a_malformed_timing_with_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "receiver_conformance.pytest_plugin",
                           "-p", "no:cacheprovider", str(tmp_path)], capture_output=True, text=True,
                          cwd=REPO_ROOT, env={**env, "RC_DOWNSTREAM_QUIET_PERIOD": "3s"}, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "RC_DOWNSTREAM_QUIET_PERIOD='3s': expected a number of seconds" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_the_pytest_option_refuses_an_unknown_capability_with_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--target=external",
                           "--capability=source-controller", "--capability=bogus",
                           "-p", "receiver_conformance.pytest_plugin", "-p", "no:cacheprovider",
                           str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown capability 'bogus'" in done.stdout + done.stderr


# --- preflight of an external target ---


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kubeconfig_for(server: str, path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("missing", "cannot be read"),
        ("not-yaml", "is not a kubeconfig file"),
        ("no-context", "is not usable"),
        ("api-down", "is unreachable"),
        ("no-url", "needs --receiver-url"),
    ],
)
def test_unreachable_external_target_is_one_line_and_exit_2(
    case: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    if case == "not-yaml":
        kubeconfig.write_text("just words")
    elif case == "no-context":
        kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    elif case in ("api-down", "no-url"):
        kubeconfig_for(f"https://127.0.0.1:{closed_port()}", kubeconfig)
    argv = ["run", "--target", "external", "--kubeconfig", str(kubeconfig)]
    if case != "no-url":
        argv += ["--receiver-url", f"http://127.0.0.1:{closed_port()}"]
    argv += ["--report-dir", str(tmp_path / "out")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert says in one_line_error(captured.err)
    assert not (tmp_path / "out").exists()  # nothing ran


@pytest.mark.controlplane
def test_unreachable_receiver_url_with_a_live_api_is_exit_2(
    control_plane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--target", "external", "--kubeconfig", str(control_plane.kubeconfig),
            "--receiver-url", f"http://127.0.0.1:{closed_port()}",
            "--report-dir", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    assert "receiver URL" in one_line_error(capsys.readouterr().err)


# --- list and docs ---


def test_list_prints_features_scenarios_tags_and_capabilities(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--features", str(suite / "features")]) == 0
    out = capsys.readouterr().out
    assert "GitHub receiver  (features/github.feature)" in out
    assert "  - bad-signature: a bad signature is refused  [@cap-api @core]" in out
    assert "      rows (unlisted-events/ROW): ping, release" in out
    assert "  - the push travels through the Ingress  [@cap-traffic @extended]" in out
    assert "1 features, 4 scenarios, 5 runs" in out
    assert "runs by profile: core 4, extended 1" in out
    assert "capabilities needed: api, traffic" in out


def test_list_refuses_a_broken_feature_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "bad.feature").write_text("Feature: x\n  Scenario: y\n    And z\n")
    assert main(["list", "--features", str(tmp_path)]) == 2
    assert "bad.feature:3: First step" in one_line_error(capsys.readouterr().err)


def test_list_counts_what_pytest_collects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    summary = capsys.readouterr().out.splitlines()[-2]
    runs = int(re.search(r"(\d+) runs", summary).group(1))  # type: ignore[union-attr]
    collected = subprocess.run([*pytest_argv(), "--collect-only", "-q"], capture_output=True,
                               text=True, timeout=120)
    tests = [line for line in collected.stdout.splitlines() if "::test_" in line]
    assert runs == len(tests), summary


def test_docs_renders_the_guide_not_run(suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "guide" / "index.html"
    assert main(["docs", "--features", str(suite / "features"), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count('class="scenario not-run"') == 4
    assert page.count('class="st not-run"') == 11
    assert "<pre>kind: Receiver</pre>" in page
    assert "<th>event</th><th>status</th>" in page  # the outline's examples
    further = page.split("<b>Further reading</b>", 1)[1].split("</nav>", 1)[0]
    assert re.search(r'<a href="[^"]*docs/running\.md">', further), further
    assert further.count("<li>") == len(FURTHER_READING)


@pytest.mark.parametrize(("urls", "address"), [
    ({}, "docs/flux.md"),
    ({"Repository": "https://github.com/acme/receiver-conformance"},
     "https://github.com/acme/receiver-conformance/blob/main/docs/flux.md"),
    ({"Source": "https://github.com/acme/receiver-conformance.git/"},
     "https://github.com/acme/receiver-conformance/blob/main/docs/flux.md"),
    ({"Homepage": "https://acme.example/receivers"}, "docs/flux.md"),  # not a repository
])
def test_the_guide_links_the_docs_on_the_projects_repository(
    monkeypatch: pytest.MonkeyPatch, urls: dict[str, str], address: str,
) -> None:
    monkeypatch.setattr(distribution, "project_urls", lambda: urls)
    assert distribution.docs_url("flux.md") == address


def test_verified_takes_page_and_readme_alike(tmp_path: Path) -> None:
    report = tmp_path / "run"
    report.mkdir()
    (report / "results.json").write_text(json.dumps({
        "run": {"implementation": {"project": "acme"}, "target": "external",
                "date": "2026-12-01T00:00:00Z"},
        "scenarios": [{"name": "s", "example": {}, "outcome": "passed"}],
    }))
    for flag in ("--page", "--readme"):
        page = tmp_path / f"flux{flag}.md"
        page.write_text(f"before\n{verified.START}\nold\n{verified.END}\nafter\n")
        assert main(["verified", str(report), flag, str(page)]) == 0
        text = page.read_text()
        assert "| acme | — | external | 2026-12-01 | 1 | 0 | 0 |" in text, text
        assert text.startswith("before\n") and text.endswith(f"{verified.END}\nafter\n")


# --- a real run of a tiny suite through pytest ---


@pytest.mark.parametrize(
    ("profile", "tags", "expression"),
    [
        ("core", None, "core"),
        ("extended", None, "core or extended"),
        ("all", None, None),
        ("all", "not cap-traffic", "not cap-traffic"),
        ("core", "cap-api", "(core) and (cap-api)"),
    ],
)
def test_marker_expression(profile: str, tags: str | None, expression: str | None) -> None:
    assert marker_expression(profile, tags) == expression


def run_cli(suite: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", "--steps", str(suite), "--report-dir", str(out), *extra],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )  # fmt: skip


def test_run_reports_every_scenario_and_fails_on_a_failure(suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli(suite, out, "--profile", "all", "--implementation", "acme/hooks",
                   "--implementation-version", "1.2.3")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "2 passed, 2 failed, 1 skipped"
    live = [line for line in lines if line[:4] in ("PASS", "FAIL", "SKIP")]
    assert len(live) == 5
    assert any(
        line.startswith("PASS  GitHub receiver: a signed push annotates the GitRepository  (")
        for line in live
    )
    assert "SKIP  GitHub receiver: the push travels through the Ingress" in done.stdout
    assert "lacks traffic" in done.stdout
    assert "FAIL  GitHub receiver: events outside spec.events are refused [event=release" in (
        done.stdout
    )
    expected = ["conformance-report.yaml", "cucumber.json", "junit.xml", "pytest.log",
                "report.html", "report.md", "results.json"]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == expected

    results = json.loads((out / "results.json").read_text())
    by_name = {(s["name"], s["example"].get("event")): s for s in results["scenarios"]}
    refused = by_name[("a bad signature is refused", None)]
    assert refused["outcome"] == "failed"
    assert [s["status"] for s in refused["steps"]] == ["passed", "passed", "failed"]
    titles = [e["title"] for e in refused["evidence"]]
    assert titles == ["the request sent", "the receiver's log", "the response observed"]
    assert refused["evidence"][0]["body"]["path"] == "/hook/aaaaaaaa…"  # masked
    skipped = by_name[("the push travels through the Ingress", None)]
    assert skipped["skip_reason"] .startswith("target embedded lacks traffic (a data plane")
    assert by_name[("events outside spec.events are refused", "ping")]["outcome"] == "passed"
    assert by_name[("a signed push annotates the GitRepository", None)]["evidence"] == []

    report = yaml.safe_load((out / "conformance-report.yaml").read_text())
    assert report["implementation"] == {"organization": "acme", "project": "hooks",
                                        "version": "1.2.3"}  # fmt: skip
    assert report["statistics"] == {"passed": 2, "failed": 2, "skipped": 1}
    assert report["skippedScenarios"][0]["reason"].startswith("target embedded lacks traffic (a data plane")
    cucumber = json.loads((out / "cucumber.json").read_text())
    assert cucumber[0]["name"] == "GitHub receiver"
    junit = ET.parse(out / "junit.xml").getroot()
    assert junit.find("testsuite").get("tests") == "5"
    assert {case.get("classname") for case in junit.iter("testcase")} == {"GitHub receiver"}
    ids = {p.get("value") for case in junit.iter("testcase") for p in case.iter("property")}
    assert ids == {"bad-signature", "unlisted-events/ping", "unlisted-events/release"}
    assert {s.get("scenario_id") for s in results["scenarios"]} == (ids | {None})
    failed = [f for profile in report["profiles"] for f in profile["failedScenarios"]]
    assert {f.get("id") for f in failed} == {"bad-signature", "unlisted-events/release"}
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert properties["receiver-conformance.version"] == version("receiver-conformance")


def test_no_report_shows_a_token_a_digest_or_a_hook_path(suite: Path, tmp_path: Path) -> None:
    """A failing scenario whose evidence, log line, captured output and assertion message all
    carry its token and hook path: every file of the report directory has them redacted."""
    out = tmp_path / "out"
    done = run_cli(suite, out, "--", "-k", "bad_signature")
    assert done.returncode == 1, done.stdout + done.stderr
    token, path = (suite / "secrets.txt").read_text().split()
    digest = path.removeprefix("/hook/")
    files = sorted(p.name for p in out.iterdir())
    assert {"junit.xml", "report.md", "report.html", "results.json", "pytest.log"} <= set(files)
    for name in files:
        text = (out / name).read_text()
        for secret in (token, digest):
            assert secret not in text, f"{name} shows {secret[:8]}…"
    assert "[token: 40 chars]" in (out / "junit.xml").read_text()
    assert f"handling request: {digest[:8]}…" in (out / "report.md").read_text()
    assert token not in done.stdout + done.stderr
    assert digest not in done.stdout + done.stderr


KNOWN = """\
- implementation: acme/hooks
  versions: [v1]
  scenario: {}
  cause: a cause
"""
INTERMITTENT = KNOWN + "  intermittent: it depends on the order of requests\n"


@pytest.mark.parametrize(("entry", "named", "select", "extra", "code", "says"), [
    # Every failure is a known deviation: the run passes, and says so (an outline's id covers
    # its rows; one row passing does not make it stale).
    (KNOWN, "unlisted-events", "spec", (), 0, "1 of the failures are known deviations"),
    (KNOWN, "bad-signature", "refused", (), 1, "1 of the failures are known deviations"),
    # A known deviation whose scenario passes now fails the run, unless allowed.
    (KNOWN, "unlisted-events/ping", "ping", (), 1,
     "stale deviation: unlisted-events/ping passes now"),
    (KNOWN, "unlisted-events/ping", "ping", ("--allow-stale-deviations",), 0,
     "(allowed by --allow-stale-deviations)"),
    # One that passes at times by its nature is not stale when it does.
    (INTERMITTENT, "unlisted-events/ping", "ping", (), 0, "1 passed, 0 failed"),
])
def test_known_deviations_explain_failures_and_go_stale_loudly(
    suite: Path, tmp_path: Path, entry: str, named: str, select: str, extra: tuple[str, ...],
    code: int, says: str,
) -> None:
    known = tmp_path / "known.yaml"
    known.write_text(entry.format(named))
    done = run_cli(suite, tmp_path / "out", "--known-deviations", str(known), "--implementation",
                   "acme/hooks", "--implementation-version", "v1", *extra, "--", "-k", select)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stdout + done.stderr
    if "stale" in says:
        results = json.loads((tmp_path / "out" / "results.json").read_text())
        assert results["run"]["stale_deviations"] == [named]


def test_scenario_ids_select_in_any_suite(suite: Path, tmp_path: Path) -> None:
    """--scenario works on the features of the steps given, an outline's id for its rows."""
    done = run_cli(suite, tmp_path / "out", "--scenario", "unlisted-events")
    assert done.stdout.splitlines()[-1] == "1 passed, 1 failed, 0 skipped", done.stdout
    done = run_cli(suite, tmp_path / "out", "--scenario", "unlisted-events/nope")
    assert done.returncode == 2
    assert "no scenario has the id unlisted-events/nope" in one_line_error(done.stderr)


def test_run_passes_when_everything_selected_passes_or_lacks_a_capability(
    suite: Path, tmp_path: Path
) -> None:
    select = ["--profile", "all", "--", "-k", "annotates or ping or ingress"]
    done = run_cli(suite, tmp_path / "out", *select)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "2 passed, 0 failed, 1 skipped"
    strict = run_cli(suite, tmp_path / "out", "--fail-on-skip", *select)
    assert strict.returncode == 1


def test_run_with_nothing_selected_fails(suite: Path, tmp_path: Path) -> None:
    done = run_cli(suite, tmp_path / "out", "--tags", "no_such_tag")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "0 passed, 0 failed, 0 skipped"
    assert "no scenario selected" in done.stderr


def test_run_writes_the_guide_in_file_order(suite: Path, tmp_path: Path) -> None:
    second = textwrap.dedent(
        """\
        Feature: A first feature by name
          @core
          Scenario: something
            Given a Receiver of type gitlab
        """
    )
    (suite / "features" / "00-first.feature").write_text(second)
    (suite / "test_first.py").write_text(
        "from pathlib import Path\nfrom pytest_bdd import scenarios\n"
        'scenarios(str(Path(__file__).parent / "features" / "00-first.feature"))\n'
        "from test_github import receiver  # noqa: F401\n"
    )
    done = run_cli(suite, tmp_path / "out", "--profile", "core", "--tags", "not cap-api")
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.index("A first feature by name") < page.index("GitHub receiver"), done.stdout


def test_run_stopped_before_any_scenario_is_exit_2_with_the_reason(
    suite: Path, tmp_path: Path
) -> None:
    with (suite / "conftest.py").open("a") as conftest:
        conftest.write(
            "\n@pytest.fixture(autouse=True)\n"
            "def plane():\n"
            "    pytest.exit('cannot start the embedded control plane: no etcd', returncode=2)\n"
        )
    done = run_cli(suite, tmp_path / "out")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot start the embedded control plane: no etcd" in done.stderr
    assert done.stdout.splitlines()[-1] == "0 passed, 0 failed, 0 skipped"


SUITE_VERSION = version("receiver-conformance")


@pytest.mark.parametrize(
    ("argv", "implementation", "flux_deviations"),
    [
        (["--target", "embedded"], {"organization": "receiver-conformance",
                                    "project": "reference", "version": SUITE_VERSION}, False),
        (["--target", "node"], {"organization": "receiver-conformance",
                                "project": "reference", "version": SUITE_VERSION}, False),
        (["--target", "flux"], {"organization": "fluxcd", "project": "notification-controller",
                                "version": "v1.9.3"}, True),
        (["--target", "node", "--notification-controller", "v1.6.0"],
         {"organization": "fluxcd", "project": "notification-controller", "version": "v1.6.0"},
         True),
        (["--target", "kind", "--receiver", "flux"],
         {"organization": "fluxcd", "project": "notification-controller", "version": "v1.9.3"},
         True),
        (["--target", "external", "--implementation", "acme/hooks"],
         {"organization": "acme", "project": "hooks"}, False),
        (["--target", "external", "--implementation", "fluxcd/notification-controller"],
         {"organization": "fluxcd", "project": "notification-controller"}, True),
    ],
)
def test_the_receiver_under_test_and_its_known_deviations(
        argv: list[str], implementation: dict[str, str], flux_deviations: bool) -> None:
    from receiver_conformance import cli, config

    cfg = config.resolve(vars(cli.build_parser().parse_args(["run", *argv])), {})
    assert cli._implementation(cfg) == implementation
    assert cli._tests_flux(cfg) is flux_deviations
