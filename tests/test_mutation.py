"""receiver_conformance.mutation without a cluster: the sample, the map, verdicts, equivalents, the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cosmic_ray import work_item
from cosmic_ray.work_item import WorkerOutcome, WorkResult

from receiver_conformance.invocation import pytest_argv
from receiver_conformance.mutation import equivalents, report
from receiver_conformance.mutation.check import mutated_modules, verdict
from receiver_conformance.mutation.equivalents import Equivalent, EquivalentsError
from receiver_conformance.mutation.features import (
    SAMPLE,
    ModuleSample,
    features_for,
    missing_features,
)
from receiver_conformance.mutation.mutants import (
    HARNESS_ERROR,
    KILLED_BY,
    Mutant,
    function_at,
    killed_by,
    mutated_line,
    outcome_of,
    relative_module,
)
from receiver_conformance.mutation.sample import Candidate, draw
from receiver_conformance.paths import PACKAGE
from receiver_conformance.suite_run import SuiteRun
from tests.checkout import REPO_ROOT

DIFF = """--- mutation diff ---
--- areference/x.py
+++ breference/x.py
@@ -1,3 +1,3 @@
-    if a == b:
+    if a != b:
"""


def mutant(outcome: str, line: int = 3, file: str = "reference/x.py", **kw: str) -> Mutant:
    fields = {"operator": "core/ReplaceComparisonOperator_Eq_NotEq", "original": "if a == b:",
              "mutated": "if a != b:", **kw}
    return Mutant(f"job-{outcome}-{line}", file, line, outcome=outcome, **fields)


# --- the map and the sample


def test_every_sampled_module_exists_and_names_existing_features() -> None:
    for entry in SAMPLE:
        assert (PACKAGE / entry.module).is_file(), entry.module
        assert entry.module.startswith("reference/") and entry.features, entry
    assert missing_features() == []


def test_features_for_a_module_in_the_sample_and_not_another() -> None:
    assert features_for("reference/senders/github.py")[0] == "05_github.feature"
    with pytest.raises(KeyError):
        features_for("reference/app.py")


def test_a_module_takes_only_its_operators() -> None:
    entry = ModuleSample("reference/x.py", ("05_github.feature",))
    assert entry.takes("core/AddNot")
    assert entry.takes("core/ReplaceComparisonOperator_Eq_NotEq")
    assert not entry.takes("core/ReplaceComparisonOperator_Eq_Lt")
    assert not entry.takes("core/NumberReplacer")


def test_the_draw_is_seeded_bounded_and_per_module() -> None:
    pool = [Candidate(f"a{i}", "reference/a.py", "core/AddNot", i, (i, 0)) for i in range(20)]
    pool += [Candidate("n", "reference/a.py", "core/NumberReplacer", 0, (1, 0)),
             Candidate("b", "reference/b.py", "core/AddNot", 0, (1, 0))]
    sample = [ModuleSample("reference/a.py", ("x",), size=5),
              ModuleSample("reference/b.py", ("x",), size=5)]
    first = draw(pool, sample, seed=1)
    assert first == draw(list(reversed(pool)), sample, seed=1)  # order of the pool: no matter
    assert len(first) == 6 and "b" in first and "n" not in first
    assert first != draw(pool, sample, seed=2)


# --- reading cosmic-ray's results


def test_outcomes_from_cosmic_ray_results() -> None:
    def result(test: work_item.TestOutcome | None, output: str = "",
               worker: WorkerOutcome = WorkerOutcome.NORMAL) -> str:
        return outcome_of(WorkResult(worker_outcome=worker, test_outcome=test, output=output))

    assert result(work_item.TestOutcome.SURVIVED, "survived: 3 passed") == "survived"
    assert result(work_item.TestOutcome.KILLED, f"{KILLED_BY}test_x") == "killed"
    assert result(work_item.TestOutcome.KILLED, "timeout\n") == "timeout"
    assert result(work_item.TestOutcome.KILLED, f"{HARNESS_ERROR}: pytest exited 5") == "error"
    assert result(work_item.TestOutcome.INCOMPETENT, "Traceback") == "error"
    assert result(None, worker=WorkerOutcome.EXCEPTION) == "error"


def test_the_mutant_is_named_by_its_lines_not_an_index() -> None:
    assert mutated_line(DIFF) == "if a != b:"
    assert killed_by(f"noise\n{KILLED_BY}test_a[b]\nmessage") == "test_a[b]"
    assert relative_module(Path("/tmp/s/reference/x.py"), Path("/tmp/s")) == "reference/x.py"


def test_the_mutated_module_is_the_one_that_differs(tmp_path: Path) -> None:
    repo, src = tmp_path / "repo", tmp_path / "src"
    for root in (repo, src):
        (root / "reference" / "senders").mkdir(parents=True)
        (root / "reference" / "a.py").write_text("A = 1\n")
        (root / "reference" / "senders" / "b.py").write_text("B = 1\n")
    assert mutated_modules(src, repo) == []
    (src / "reference" / "senders" / "b.py").write_text("B = 2\n")
    assert mutated_modules(src, repo) == ["reference/senders/b.py"]


def test_verdicts_of_suite_runs() -> None:
    def run(code: int, outcomes: dict[str, str]) -> SuiteRun:
        return SuiteRun(code, outcomes, {n: "expected 400" for n in outcomes}, "output")

    assert verdict(run(0, {"t1": "passed", "t2": "skipped"})) == (
        0, "survived: 1 passed, 1 skipped")
    code, text = verdict(run(1, {"t1": "passed", "t2": "failed"}))
    assert code == 1 and text.startswith(f"{KILLED_BY}t2")
    code, text = verdict(run(5, {}))
    assert code == 1 and text.startswith(HARNESS_ERROR)


def test_the_launcher_runs_the_copy_not_the_installed_reference(tmp_path: Path) -> None:
    package = tmp_path / "reference"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import sys\nprint('copy', sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-m", "receiver_conformance.mutation.launch", str(tmp_path),
                           "--", "--flag"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "copy ['--flag']"


def test_the_selection_keeps_the_files_and_their_order() -> None:
    def collect(files: str) -> list[str]:
        done = subprocess.run(
            [*pytest_argv(), "-q", "--collect-only",
             "-p", "receiver_conformance.mutation.select",
             "--mutation-features", files],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        return [line for line in done.stdout.splitlines() if "::" in line]

    limits, url = collect("08_limits.feature"), collect("04_receiver_url.feature")
    assert limits and url and not set(limits) & set(url)
    assert collect("08_limits.feature,04_receiver_url.feature") == limits + url


# --- equivalents


def entry(**kw: object) -> dict[str, object]:
    return {"file": "reference/x.py", "line": 3, "function": "f",
            "operator": "core/ReplaceComparisonOperator_Eq_NotEq",
            "original": "if a == b:", "mutated": "if a != b:", "reason": "a is b", **kw}


def write_yaml(path: Path, entries: list[dict[str, object]]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(entries))
    return path


def test_the_committed_equivalents_load_and_each_gives_a_reason() -> None:
    for found in equivalents.load():
        assert found.reason and (PACKAGE / found.file).is_file()


def test_malformed_equivalents_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EquivalentsError, match="no reason"):
        equivalents.load(write_yaml(tmp_path / "e.yaml", [entry(reason=" ")]))
    bad = entry()
    del bad["mutated"]
    with pytest.raises(EquivalentsError, match="needs exactly"):
        equivalents.load(write_yaml(tmp_path / "e.yaml", [bad]))
    assert equivalents.load(tmp_path / "absent.yaml") == []


def test_an_equivalent_matches_by_its_lines_where_it_is(tmp_path: Path) -> None:
    known = equivalents.load(write_yaml(tmp_path / "e.yaml", [entry(line=40)]))
    # the code moved, within the same def: still the argued mutant
    assert equivalents.match(mutant("survived", line=3, function="f"), known) is not None
    # the same text in another def is another mutant
    assert equivalents.match(mutant("survived", line=3, function="g"), known) is None
    assert equivalents.match(mutant("survived", line=40, function="g"), known) is not None
    assert equivalents.match(mutant("survived", mutated="if a < b:", function="f"), known) is None
    twins = equivalents.load(write_yaml(tmp_path / "e.yaml",
                                        [entry(line=3), entry(line=9, reason="other")]))
    matched = equivalents.match(mutant("survived", line=9, function="f"), twins)
    assert matched is not None and matched.reason == "other"


SOURCE = """\
X = 1


@decorated
class A:
    def m(self):
        if x:
            return 1

    async def n(self):
        pass


def f():
    def inner():
        return 2
    return inner
"""


@pytest.mark.parametrize(("line", "function"), [
    (1, "<module>"), (4, "A"), (5, "A"), (7, "A.m"), (10, "A.n"), (14, "f"), (16, "f.inner"),
    (17, "f"),
])
def test_a_mutant_knows_the_def_it_is_in(line: int, function: str) -> None:
    assert function_at(SOURCE, line) == function


def test_the_committed_equivalents_name_where_their_lines_are() -> None:
    for found in equivalents.load():
        source = (PACKAGE / found.file).read_text()
        assert source.splitlines()[found.line - 1].strip() == found.original.strip(), found
        assert function_at(source, found.line) == found.function, found


# --- the report


def test_the_report_counts_per_module_and_leaves_equivalents_out_of_the_rate(
        tmp_path: Path) -> None:
    mutants = [mutant("killed", 1), mutant("killed", 2), mutant("timeout", 4),
               mutant("survived", 5, mutated="if a is b:"), mutant("survived", 6),
               mutant("error", 7), mutant("killed", 1, file="reference/y.py")]
    known = [Equivalent("reference/x.py", 6, "<module>", "core/ReplaceComparisonOperator_Eq_NotEq",
                        "if a == b:", "if a != b:", "the same either way")]
    built = report.build(mutants, known, wall_seconds=120.0)
    x = built.tallies["reference/x.py"]
    assert (x.killed, x.survived, x.timeout, x.equivalent, x.error) == (2, 1, 1, 1, 1)
    assert x.kill_rate == pytest.approx(3 / 4)
    assert built.overall.kill_rate == pytest.approx(4 / 5)
    assert built.mutants_per_minute == pytest.approx(3.5)
    assert [m.line for m in built.survivors] == [5]
    assert [e.reason for _, e in built.equivalents] == ["the same either way"]

    report.write(built, mutants, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "Kill rate excluding equivalent survivors: 80%" in text
    assert "| reference/x.py | 2 | 1 | 1 | 1 | 1 | 75% |" in text
    assert "the same either way" in text
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["modules"]["reference/y.py"]["killed"] == 1
    assert len(data["mutants"]) == len(mutants)


def test_a_rejudged_report_says_so_and_keeps_the_first_wall_time(tmp_path: Path) -> None:
    from receiver_conformance.mutation.run import first_wall_seconds

    (tmp_path / "results.json").write_text(json.dumps({"wall_seconds": 600.0}))
    wall = first_wall_seconds(tmp_path / "no-state", tmp_path)
    built = report.build([mutant("killed")], [], wall)
    built.rejudged, built.rejudge_seconds = 3, 90.0
    text = report.markdown(built)
    assert "3 survivors were run again with new scenarios (`--rejudge`, 1.5 min)" in text
    assert "in 10.0 min" in text
