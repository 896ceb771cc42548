"""The run configuration: defaults, then RC_* variables, then flags; normalised; and the
target registry's checks of what fits together."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from receiver_conformance import config
from receiver_conformance.config import SETTINGS, ConfigError, RunConfig, resolve
from receiver_conformance.targets import registry

# One value per setting, as its variable carries it, and the field value it must give.
ENV_VALUES: dict[str, tuple[str, object]] = {
    "target": ("node", "node"),
    "receiver": ("flux", "flux"),
    "notification_controller": ("v1.6.0", "v1.6.0"),
    "kubeconfig": ("/tmp/k", Path("/tmp/k")),
    "receiver_url": ("http://127.0.0.1:9292", "http://127.0.0.1:9292"),
    "namespace": ("work", "work"),
    "receiver_namespace": ("hooks", "hooks"),
    "capabilities": ("traffic, receiver-metrics", frozenset({"traffic", "receiver-metrics"})),
    "no_probe": ("true", True),
    "disposable_cluster": ("on", True),
    "flux_deployment": ("true", True),
    "kind_images": ("pulled", "pulled"),
    "receiver_log": ("/tmp/receiver.log", Path("/tmp/receiver.log")),
    "metrics_url": ("http://127.0.0.1:8080/metrics", "http://127.0.0.1:8080/metrics"),
    "gcr_keys": ("/tmp/keys", Path("/tmp/keys")),
    "serve_address": ("0.0.0.0", "0.0.0.0"),
    "advertise_host": ("host.example", "host.example"),
    "workers": ("3", 3),
    "reference_args": ("--no-cross-namespace-refs --log-level=debug",
                       ("--no-cross-namespace-refs", "--log-level=debug")),
    "scenarios": ("token-rotation github-delivery-refused/no-signature",
                  ("token-rotation", "github-delivery-refused/no-signature")),
    "profile": ("all", "all"),
    "tags": ("not cap-traffic", "not cap-traffic"),
    "report_dir": ("/tmp/reports", Path("/tmp/reports")),
    "implementation": ("acme/hooks", "acme/hooks"),
    "implementation_version": ("1.2.3", "1.2.3"),
    "implementation_url": ("https://example.com", "https://example.com"),
    "implementation_contact": ("@acme", "@acme"),
    "known_deviations": ("/tmp/known.yaml", Path("/tmp/known.yaml")),
    "allow_stale_deviations": ("yes", True),
    "fail_on_skip": ("1", True),
}


def test_every_setting_has_a_variable_value_here() -> None:
    assert sorted(ENV_VALUES) == sorted(s.name for s in SETTINGS)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_rc_variable_is_honoured(setting: config.Setting) -> None:
    raw, expected = ENV_VALUES[setting.name]
    resolved = resolve({}, {setting.env: raw})
    assert getattr(resolved, setting.name) == expected
    assert resolved.origin(setting.name) == setting.env


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.flag)
def test_a_flag_wins_over_its_variable(setting: config.Setting) -> None:
    parser = argparse.ArgumentParser()
    config.add_options(parser.add_argument)
    raw, expected = ENV_VALUES[setting.name]
    argv = [setting.flag] if setting.kind == "flag" else [f"{setting.flag}={raw}"]
    if setting.kind == "words":
        argv = [f"{setting.flag}={word}" for word in raw.split()]
    flags = vars(parser.parse_args(argv))
    other = {"flag": "false", "list": "kubectl", "words": "--other"}.get(setting.kind, "")
    if setting.kind == "text" and setting.choices:
        other = next(c for c in setting.choices if c != raw)
    environ = {setting.env: other or "elsewhere"}
    resolved = resolve(flags, environ)
    assert getattr(resolved, setting.name) == expected
    assert resolved.origin(setting.name) == setting.flag


def test_defaults() -> None:
    resolved = resolve({}, {})
    assert (resolved.target, resolved.receiver, resolved.profile) == ("embedded", "reference",
                                                                      "core")
    assert resolved.report_dir == Path("conformance-report")
    assert resolved.receiver_namespace == "flux-system"
    assert resolved.workers == 4  # the embedded cluster is the run's: scenarios share it
    assert resolve({}, {"RC_TARGET": "external"}).workers == 1


def test_kubeconfig_falls_back_to_kubeconfig_variable() -> None:
    assert resolve({}, {"KUBECONFIG": "/a:/b"}).kubeconfig == Path("/a")
    assert resolve({}, {"KUBECONFIG": "/a", "RC_KUBECONFIG": "/c"}).kubeconfig == Path("/c")


@pytest.mark.parametrize(
    ("given", "target", "receiver"),
    [
        ({"target": "flux"}, "embedded", "flux"),
        ({"target": "node", "notification_controller": "v1.9.3"}, "node", "flux"),
        ({"target": "kind"}, "kind", "reference"),
        ({"target": "kind", "receiver": "flux"}, "kind", "flux"),
        ({"target": "external"}, "external", None),
    ],
)
def test_where_and_what_are_told_apart(given: dict[str, str], target: str,
                                       receiver: str | None) -> None:
    resolved = registry.validate(resolve(given, {}))
    assert (resolved.target, resolved.receiver) == (target, receiver)
    assert registry.placement(resolved).name == target


def test_the_registry_knows_every_placement_the_config_offers() -> None:
    assert set(registry.PLACEMENTS) == set(config.PLACEMENT_NAMES)
    assert set(config.TARGET_CHOICES) - set(registry.PLACEMENTS) == {"flux"}


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"target": "external", "receiver": "reference"}, "--receiver reference: --target "
         "external tests the receiver you run"),
        ({"capabilities": ["traffic"]}, "--capability is for --target external"),
        ({"no_probe": True, "target": "kind"}, "--no-probe is for --target external"),
        ({"flux_deployment": True}, "--flux-deployment is for the reference receiver on "
         "--target node"),
        ({"flux_deployment": True, "target": "node", "receiver": "flux"},
         "--flux-deployment is for the reference receiver on --target node"),
        ({"target": "flux", "receiver": "reference"}, "contradicts"),
        ({"target": "kind", "kind_images": "pulled", "notification_controller": "v1.6.0"},
         "is for --target flux, node or kind"),
        ({"target": "external", "capabilities": ["receiver-metrics"]},
         "--capability receiver-metrics: the suite cannot serve it without --metrics-url"),
        ({"target": "external", "capabilities": ["gcr-test-keys"]},
         "--capability gcr-test-keys: the suite cannot serve it without --gcr-keys"),
        ({"target": "external", "capabilities": ["receiver-log"]},
         "--capability receiver-log: the suite cannot serve it without --receiver-log"),
        ({"target": "external", "gcr_keys": "/nonexistent"}, "no signing key there"),
        ({"metrics_url": "http://h/metrics"}, "--metrics-url is for --target external"),
        ({"disposable_cluster": True, "target": "node"},
         "--disposable-cluster is for --target external"),
    ],
)
def test_what_does_not_fit_is_refused(given: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        registry.validate(resolve(given, {}))


@pytest.mark.parametrize(("environ", "says"), [
    ({"RC_QUIET_PERIOD": "half a second"}, "RC_QUIET_PERIOD='half a second': expected a number "
     "of seconds, 0 or more"),
    ({"RC_DOWNSTREAM_QUIET_PERIOD": "-1"}, "RC_DOWNSTREAM_QUIET_PERIOD='-1'"),
    ({"RC_NAMESPACES_GONE_TIMEOUT": "nan"}, "RC_NAMESPACES_GONE_TIMEOUT='nan'"),
    ({"RC_NAMESPACES_GONE_TIMEOUT": "inf"}, "RC_NAMESPACES_GONE_TIMEOUT='inf'"),
])
def test_a_malformed_timing_is_refused(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        resolve({}, environ)
    variable = next(iter(environ))
    known = next(t for t in config.TIMINGS if t.env == variable)
    assert config.timing(variable, environ) == known.default  # at import: the default


def test_a_timing_is_read_in_seconds() -> None:
    assert config.timing("RC_QUIET_PERIOD", {"RC_QUIET_PERIOD": " 2.5 "}) == 2.5
    assert config.timing("RC_NAMESPACES_GONE_TIMEOUT", {"RC_NAMESPACES_GONE_TIMEOUT": "0"}) == 0
    assert config.timing("RC_QUIET_PERIOD", {}) == 0.5


@pytest.mark.parametrize(("environ", "says"), [
    ({"RC_SCENARIOS": "Token Rotation"}, "RC_SCENARIOS: 'Token' is not a scenario id"),
    ({"RC_SCENARIOS": "a/b/c"}, "RC_SCENARIOS: 'a/b/c' is not a scenario id"),
])
def test_a_malformed_scenario_id_is_refused(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        resolve({}, environ)


def test_pytest_args_carry_what_differs_from_the_defaults() -> None:
    resolved = resolve({"target": "external", "capabilities": ["traffic", "api"],
                        "no_probe": True, "receiver_url": "http://h:1"}, {})
    assert config.pytest_args(resolved) == [
        "--target=external", "--receiver-url=http://h:1", "--capability=api",
        "--capability=traffic", "--no-probe", "--workers=1"]
    assert config.pytest_args(RunConfig()) == []


def test_the_pytest_side_resolves_the_same_from_those_args() -> None:
    """What `run` hands its child pytest resolves there to the same target settings."""
    given = resolve({"target": "node", "notification_controller": "v1.6.0"}, {})
    parser = argparse.ArgumentParser()
    config.add_options(parser.add_argument, scope="target")
    again = resolve(vars(parser.parse_args(config.pytest_args(given))), {}, scope="target")
    assert (again.target, again.receiver, again.notification_controller) == (
        "node", "flux", "v1.6.0")


def test_gcr_keys_survive_a_save_and_a_load(tmp_path: Path) -> None:
    """The key `gcr-keys` writes signs tokens that its JWKS verifies, run after run."""
    import json

    import jwt

    from receiver_conformance.senders.gcr import TestGoogleIssuer

    jwks_path = TestGoogleIssuer().save(tmp_path)
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o077 == 0
    again = TestGoogleIssuer.load(tmp_path)
    (jwk,) = json.loads(jwks_path.read_text())["keys"]
    assert jwk["kid"] == again.kid
    token = again.mint("audience", "push@example.com")
    key = jwt.PyJWK(jwk).key
    assert jwt.decode(token, key, algorithms=["RS256"], audience="audience")["email"] == (
        "push@example.com")
    assert TestGoogleIssuer.load(tmp_path).kid == again.kid
