"""receiver_conformance.flake: which scenarios changed outcome between runs, and the exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver_conformance import flake


def test_a_scenario_with_two_outcomes_is_flaky_and_a_steady_one_is_not() -> None:
    runs = [{"a": "passed", "b": "failed", "c": "skipped"},
            {"a": "failed", "b": "failed", "c": "skipped"},
            {"a": "passed", "b": "failed"}]
    found = flake.flakes(runs)
    assert [f.scenario for f in found] == ["a", "c"]
    assert found[0].line() == "a: 2 passed, 1 failed (p f p)"
    assert found[1].outcomes == ("skipped", "skipped", "not run")


def _results(directory: Path, outcomes: dict[str, str]) -> None:
    directory.mkdir(parents=True)
    scenarios = [{"id": i, "outcome": o} for i, o in outcomes.items()]
    (directory / "results.json").write_text(json.dumps({"scenarios": scenarios}))


@pytest.mark.parametrize(("second", "status"), [("passed", 0), ("failed", 1)])
def test_main_fails_only_when_an_outcome_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    second: str, status: int,
) -> None:
    planned = iter([{"s": "passed", "t": "failed"}, {"s": second, "t": "failed"}])
    calls = []

    def fake_run(index: int, out: Path, run_args: list[str]) -> dict[str, str]:
        calls.append(run_args)
        _results(out / f"run-{index}", next(planned))
        return flake.outcomes(out / f"run-{index}")

    monkeypatch.setattr(flake, "run_once", fake_run)
    assert flake.main(["--runs", "2", "--out", str(tmp_path), "--", "--target", "flux"]) == status
    assert calls == [["--target", "flux"]] * 2
    printed = capsys.readouterr().out
    assert "always failed: t" in printed
    assert ("FLAKY s" in printed) == (status == 1)


def test_fewer_than_two_runs_is_bad_usage() -> None:
    with pytest.raises(SystemExit) as stop:
        flake.main(["--runs", "1"])
    assert stop.value.code == 2
