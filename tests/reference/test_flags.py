"""A drop-in takes Flux's command line: every flag of notification-controller's binary, with
its default, and the arguments of Flux's own Deployment.

The flags are read from the binary the flux target builds from the pinned module (its pflag
usage lists every flag of main.go and of the option sets it binds, with their defaults), so
a new flag in a new release shows up here.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from typing import Any

import pytest

from receiver_conformance import versions
from receiver_conformance.flux import build, manifests
from receiver_conformance.reference import flags
from receiver_conformance.reference.__main__ import options_from

# `      --name type   help text (default value)`; booleans have no type.
USAGE_LINE = re.compile(r"^\s+--(?P<name>[\w-]+)(?: (?P<type>\w+))?\s{2,}(?P<help>.*?)"
                        r"(?: \(default (?P<default>.*)\))?$")
NC_VERSION = versions.FLUX_MODULES["notification-controller"][1]


def flux_flags() -> list[tuple[str, str | None, str | None]]:
    """(name, type, default as printed) of every flag of the pinned notification-controller."""
    found = build.find_controllers(names=["notification-controller"])
    if found is None:
        pytest.skip("notification-controller is not built (make binaries builds it)")
    usage = subprocess.run([str(found["notification-controller"]), "--help"],
                           capture_output=True, text=True, timeout=30)
    rows = [USAGE_LINE.match(line) for line in (usage.stdout + usage.stderr).splitlines()]
    return [(m["name"], m["type"], m["default"]) for m in rows if m]


def _value(kind: str | None, default: str | None) -> str:
    """The default as one would write it on the command line."""
    if default is None:
        return "false" if kind is None else ""
    return default[1:-1] if default.startswith('"') else default


def test_the_binary_lists_flux_flags() -> None:
    names = {name for name, _, _ in flux_flags()}
    assert len(names) >= 25
    assert {"receiverAddr", "kube-api-qps", "enable-leader-election", "feature-gates"} <= names


def test_every_flux_flag_is_accepted_with_fluxs_default() -> None:
    parser = flags.parser()
    defaults = vars(parser.parse_args([]))
    wrong: list[str] = []
    for name, kind, default in flux_flags():
        given = f"--{name}={_value(kind, default)}"
        try:
            parsed = vars(parser.parse_args([given]))
        except SystemExit:
            wrong.append(f"{given}: refused")
            continue
        changed = {k: v for k, v in parsed.items() if defaults[k] != v}
        if changed:
            wrong.append(f"{given}: gives {changed}, the reference's default is otherwise")
    assert not wrong, "\n".join(wrong)


def test_every_flux_boolean_stands_alone() -> None:
    parser = flags.parser()
    for name, kind, _ in flux_flags():
        if kind is None:
            dest = name.replace("-", "_")
            assert getattr(parser.parse_args([f"--{name}"]), dest) is True, name


def test_fluxs_own_deployment_arguments_start_the_reference(
        monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        objects = manifests.receiver_objects(NC_VERSION, "flux-system")
    except manifests.ManifestsNotFound as err:
        pytest.skip(str(err))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--enable-leader-election" in args
    monkeypatch.setenv("RUNTIME_NAMESPACE", "flux-system")
    options, _ = options_from(args)
    assert options.election is not None and options.election.namespace == "flux-system"
    assert options.election.name == "notification-controller-leader-election"
    assert (options.election.lease_duration, options.election.renew_deadline,
            options.election.retry_period) == (35.0, 30.0, 5.0)
    assert options.election.release_on_cancel is True
    assert (options.kube_api_qps, options.kube_api_burst, options.concurrent) == (50.0, 300, 4)


@pytest.mark.parametrize(("text", "seconds"), [
    ("750ms", 0.75), ("15m0s", 900.0), ("1h0m0s", 3600.0), ("1h30m", 5400.0), ("1.5s", 1.5),
    ("0", 0.0), ("-2s", -2.0), ("300us", 300e-6), (".5s", 0.5), ("2h45m30.5s", 9930.5),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert flags.duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1x", "s", "1m 2s", "1.s.", "--1s", "1hm"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        flags.duration(text)


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("T", True), ("1", True), ("False", False), ("0", False), ("f", False),
    ("yes", None), ("tRUE", None), ("", None),
])
def test_booleans_as_go_reads_them(text: str, value: bool | None) -> None:
    if value is None:
        with pytest.raises(argparse.ArgumentTypeError):
            flags.boolean(text)
    else:
        assert flags.boolean(text) is value


@pytest.mark.parametrize(("argv", "expected"), [
    ([], {"config_watchers": True}),
    (["--feature-gates=DisableConfigWatchers=true"], {"config_watchers": False}),
    (["--feature-gates", "CacheSecretsAndConfigMaps=true,DisableConfigWatchers=false"],
     {"config_watchers": True}),
    (["--kube-api-qps=-1", "--kube-api-burst=0"], {"kube_api_qps": -1.0, "kube_api_burst": 0}),
    (["--concurrent=16", "--min-retry-delay=1s", "--max-retry-delay=1m"],
     {"concurrent": 16, "min_retry_delay": 1.0, "max_retry_delay": 60.0}),
    (["--export-http-path-metrics"], {"export_http_path_metrics": True}),
])
def test_flags_that_act(argv: list[str], expected: dict[str, Any]) -> None:
    options, _ = options_from(argv)
    assert {key: getattr(options, key) for key in expected} == expected


@pytest.mark.parametrize(("argv", "message"), [
    (["--feature-gates=NoSuchGate=true"], "feature-gate 'NoSuchGate' not supported"),
    (["--feature-gates=DisableConfigWatchers"], "not of the form Name=true|false"),
    (["--concurrent=0"], "--concurrent 0: at least 1"),
    (["--enable-leader-election"], "needs the runtime namespace"),
    (["--enable-leader-election", "--namespace=x", "--leader-election-renew-deadline=40s"],
     "retry period < renew deadline < lease duration"),
    (["--leader-election-lease-duration=35"], "is not a duration"),
    (["--enable-lead"], "unrecognized arguments"),  # no abbreviations, as pflag
])
def test_bad_flags_exit_2_with_the_reason(argv: list[str], message: str,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RUNTIME_NAMESPACE", raising=False)
    monkeypatch.setattr("receiver_conformance.reference.__main__.SERVICE_ACCOUNT_NAMESPACE",
                        type("Missing", (), {"read_text": lambda self: (_ for _ in ()).throw(
                            OSError("not in a pod"))})())
    with pytest.raises(SystemExit) as exc:
        options_from(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_event_side_flags_are_named_once_as_not_used() -> None:
    argv = ["--events-addr=:9999", "--log-level=info", "--token-cache-max-size", "5"]
    assert flags.given(argv, flags.EVENT_SIDE) == ["events-addr", "token-cache-max-size"]
