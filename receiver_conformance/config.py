"""One typed run configuration: defaults, then the environment, then flags.

Every setting is declared once in `SETTINGS`, with its flag, its `RC_*` variable and its
help. The command line (`receiver-conformance run`) registers all of them; the pytest plugin
registers those of scope "target", which choose and describe where the scenarios run. Both
read a run's values the same way, with `resolve()`, so a variable means the same thing to
`run` and to a bare `pytest` on the steps.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from receiver_conformance import scenario_ids, versions
from receiver_conformance.capabilities import UnknownCapability, parse_capabilities
from receiver_conformance.scenario_ids import ScenarioIdError

Kind = Literal["text", "path", "flag", "list", "words"]
Scope = Literal["target", "run"]
PROFILES = ("core", "extended", "all")
PLACEMENT_NAMES = ("embedded", "node", "kind", "external")
TARGET_CHOICES = ("embedded", "flux", "node", "kind", "external")  # flux: embedded + Flux
RECEIVERS = ("reference", "flux")
KIND_IMAGES = ("built", "pulled")
DEFAULT_RECEIVER_NAMESPACE = "flux-system"
# Scenarios at once where the suite owns the cluster and throws it away; elsewhere one.
DEFAULT_WORKERS = {"embedded": 4}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting has a value the suite cannot use; the message is one line for the user."""


@dataclass(frozen=True)
class Setting:
    """One setting: the field of RunConfig it fills, its flags and its variable."""

    name: str
    flags: tuple[str, ...]
    help: str
    kind: Kind = "text"
    scope: Scope = "target"
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def env(self) -> str:
        return "RC_" + self.name.upper()

    @property
    def flag(self) -> str:
        return self.flags[0]


SETTINGS: tuple[Setting, ...] = (
    Setting("target", ("--target",), "where the receiver runs: embedded (default), node, kind "
            "or external; flux is embedded with Flux's notification-controller as the receiver",
            choices=TARGET_CHOICES),
    Setting("receiver", ("--receiver",), "what runs as the receiver on embedded, node and "
            "kind: reference (default) or flux (Flux's notification-controller, built here)",
            choices=RECEIVERS),
    Setting("notification_controller", ("--notification-controller",),
            "the notification-controller release when the receiver is flux, one of "
            + ", ".join(versions.NOTIFICATION_RELEASES) + " (default "
            + versions.FLUX_MODULES["notification-controller"][1] + "); implies --receiver flux",
            choices=tuple(versions.NOTIFICATION_RELEASES), metavar="VERSION"),
    Setting("kubeconfig", ("--kubeconfig",), "external: kubeconfig of the cluster the "
            "receiver watches (default: $KUBECONFIG)", kind="path", metavar="FILE"),
    Setting("receiver_url", ("--receiver-url",), "external: base URL of the receiver; hook "
            "paths are appended", metavar="URL"),
    Setting("namespace", ("--namespace", "--work-namespace"), "external: a namespace to work "
            "in instead of a fresh one per scenario", metavar="N"),
    Setting("receiver_namespace", ("--receiver-namespace",), "external: the namespace of the "
            f"receiver's Deployment and Service (default {DEFAULT_RECEIVER_NAMESPACE})",
            metavar="N"),
    Setting("capabilities", ("--capability",), "external: a capability the target has that "
            "the suite cannot probe; repeatable (the variable: comma-separated); see "
            "'receiver-conformance list'", kind="list", metavar="NAME"),
    Setting("flux_deployment", ("--flux-deployment",), "node: deploy the reference with Flux's "
            "own notification-controller Deployment (its module's config/manager, flux2's RBAC, "
            "its arguments: leader election on), only the image changed", kind="flag"),
    Setting("kind_images", ("--kind-images",), "kind: built (default: Kubernetes, kind and "
            "every image built here, no registry; a Docker engine of the suite's own; root) or "
            "pulled (kind's released node image, ingress-nginx, Envoy Gateway and "
            "cloud-provider-kind from their registries, on the Docker engine you run)",
            choices=KIND_IMAGES),
    Setting("disposable_cluster", ("--disposable-cluster",), "external: the cluster is thrown "
            "away after the run, so each scenario's namespace is left to it, not deleted "
            "(spares the API server the namespace controller's work; embedded and flux always "
            "do this)", kind="flag"),
    Setting("no_probe", ("--no-probe",), "external: the declared capabilities are all it has; "
            "skip the probes for a deployed receiver and a source controller", kind="flag"),
    Setting("receiver_log", ("--receiver-log",), "external: the file the receiver writes its "
            "log to; the log scenarios read it (capability receiver-log)", kind="path",
            metavar="FILE"),
    Setting("metrics_url", ("--metrics-url",), "external: the receiver's Prometheus metrics "
            "URL (e.g. http://HOST:8080/metrics); gives receiver-metrics", metavar="URL"),
    Setting("gcr_keys", ("--gcr-keys",), "external: a directory written by 'receiver-conformance "
            "gcr-keys', whose google-jwks.json the receiver trusts; gives gcr-test-keys",
            kind="path", metavar="DIR"),
    Setting("serve_address", ("--serve-address",), "the address the suite's OIDC issuer and "
            "Git server listen on (default 127.0.0.1); one an in-cluster receiver and "
            "source-controller can reach, e.g. 0.0.0.0", metavar="ADDRESS"),
    Setting("advertise_host", ("--advertise-host",), "the host name or address the receiver "
            "and source-controller use to reach the suite's OIDC issuer and Git server "
            "(default: --serve-address)", metavar="HOST"),
    Setting("reference_args", ("--reference-arg",), "embedded and node, the reference: a flag "
            "added to its command line, e.g. --no-cross-namespace-refs; repeatable (the "
            "variable: space-separated)", kind="words", metavar="ARG"),
    Setting("workers", ("--workers",), "run the scenarios in N processes at once, on one "
            "control plane and receiver (embedded: default 4; external: default 1; node and "
            "kind: 1); scenarios tagged @serial take their turn alone", metavar="N"),
    Setting("scenarios", ("--scenario",), "only this scenario, by its id (see 'receiver-conformance "
            "list'; ID/ROW for one example row of an outline); repeatable (the variable: "
            "space-separated)", kind="words", metavar="ID"),
    Setting("profile", ("--profile",), "core: @core only; extended: @core and @extended; all: "
            "every scenario (default core)", scope="run", choices=PROFILES),
    Setting("tags", ("--tags",), "an extra pytest marker expression over the tags, e.g. "
            "'not cap-traffic'", scope="run", metavar="EXPR"),
    Setting("report_dir", ("--report-dir",), "where the reports go (default "
            "./conformance-report)", kind="path", scope="run", metavar="DIR"),
    Setting("implementation", ("--implementation",), "the receiver under test, as "
            "ORGANIZATION/PROJECT or PROJECT", scope="run", metavar="NAME"),
    Setting("implementation_version", ("--implementation-version",), "its version",
            scope="run", metavar="V"),
    Setting("implementation_url", ("--implementation-url",), "its home page", scope="run",
            metavar="URL"),
    Setting("implementation_contact", ("--implementation-contact",), "who answers for it "
            "(a GitHub handle or an address), for a published report", scope="run",
            metavar="WHO"),
    Setting("known_deviations", ("--known-deviations",), "failures of the implementation "
            "explained by a cause (YAML); the run passes when every failure is one of them "
            "(default when the receiver is Flux's, run by the suite or named by --implementation "
            "fluxcd/notification-controller: the suite's own list)", kind="path",
            scope="run", metavar="FILE"),
    Setting("allow_stale_deviations", ("--allow-stale-deviations",), "a known deviation whose "
            "scenario passes now is reported but does not fail the run", kind="flag",
            scope="run"),
    Setting("fail_on_skip", ("--fail-on-skip",), "exit 1 when any selected scenario was "
            "skipped", kind="flag", scope="run"),
)
BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class RunConfig:
    """A run's settings, resolved and normalised (see `resolve`)."""

    target: str = "embedded"  # where: embedded, node, kind or external (flux is folded in)
    receiver: str | None = None  # what: reference or flux; None on external (the user's)
    notification_controller: str | None = None  # Flux's release, when receiver is flux
    kubeconfig: Path | None = None
    receiver_url: str | None = None
    namespace: str | None = None
    receiver_namespace: str = DEFAULT_RECEIVER_NAMESPACE
    capabilities: frozenset[str] = frozenset()
    flux_deployment: bool = False
    kind_images: str = "built"
    disposable_cluster: bool = False
    no_probe: bool = False
    receiver_log: Path | None = None
    metrics_url: str | None = None
    gcr_keys: Path | None = None
    serve_address: str = "127.0.0.1"
    advertise_host: str | None = None
    reference_args: tuple[str, ...] = ()
    workers: int = 0  # 0: the placement's default (DEFAULT_WORKERS)
    scenarios: tuple[str, ...] = ()
    profile: str = "core"
    tags: str | None = None
    report_dir: Path = Path("conformance-report")
    implementation: str | None = None
    implementation_version: str | None = None
    implementation_url: str | None = None
    implementation_contact: str | None = None
    known_deviations: Path | None = None
    allow_stale_deviations: bool = False
    fail_on_skip: bool = False
    # Where each value came from, for messages: "default", "RC_X" or "--x".
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def runs_flux(self) -> bool:
        """The receiver under test is Flux's notification-controller, run by the suite."""
        return self.receiver == "flux"

    def given(self, name: str) -> bool:
        return self.sources.get(name, "default") != "default"

    def origin(self, name: str) -> str:
        """How the user gave a setting: its flag or its variable."""
        source = self.sources.get(name, "default")
        return BY_NAME[name].flag if source == "default" else source


@dataclass(frozen=True)
class Timing:
    """A duration the steps read from the environment only (no flag): seconds, 0 or more."""

    env: str
    default: float
    help: str


TIMINGS: tuple[Timing, ...] = (
    Timing("RC_QUIET_PERIOD", 0.5, "how long a refusal scenario watches the sources for a "
           "late annotation"),
    Timing("RC_DOWNSTREAM_QUIET_PERIOD", 3.0, "the same for the downstream scenarios (at "
           "least RC_QUIET_PERIOD)"),
    Timing("RC_NAMESPACES_GONE_TIMEOUT", 120.0, "how long the run's end waits for the "
           "namespaces its scenarios deleted to be gone; 0: do not wait"),
)
_TIMING = {t.env: t for t in TIMINGS}


def timing(env: str, environ: Mapping[str, str] | None = None, strict: bool = False) -> float:
    """The seconds `env` gives, else its default. A malformed value raises ConfigError when
    `strict`, else gives the default: modules read these at import, and `resolve` refuses
    the run (one line, exit 2) before a step uses one."""
    known = _TIMING[env]
    raw = (os.environ if environ is None else environ).get(env, "").strip()
    if not raw:
        return known.default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        if strict:
            raise ConfigError(f"{env}={raw!r}: expected a number of seconds, 0 or more")
        return known.default
    return seconds


def resolve(flags: Mapping[str, object], environ: Mapping[str, str] | None = None,
            scope: Scope | None = None) -> RunConfig:
    """Defaults, then `environ` (os.environ by default), then `flags` (argparse or pytest
    values by setting name; None or empty means not given); normalised and checked.
    Raises ConfigError with one line naming the flag or variable at fault."""
    environ = os.environ if environ is None else environ
    for known in TIMINGS:
        timing(known.env, environ, strict=True)
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if scope is not None and setting.scope != scope:
            continue
        given = flags.get(setting.name)
        if given not in (None, [], (), False, ""):
            values[setting.name] = _from_flag(setting, given)
            sources[setting.name] = setting.flag
        elif environ.get(setting.env, "").strip():
            values[setting.name] = _from_env(setting, environ[setting.env])
            sources[setting.name] = setting.env
    if "kubeconfig" not in values and environ.get("KUBECONFIG"):
        values["kubeconfig"] = Path(environ["KUBECONFIG"].split(os.pathsep)[0])
        sources["kubeconfig"] = "KUBECONFIG"
    config = replace(RunConfig(), **values, sources=sources)  # type: ignore[arg-type]
    return _normalise(config)


def _from_flag(setting: Setting, value: object) -> object:
    if setting.kind == "flag":
        return bool(value)
    if setting.kind in ("list", "words"):
        items = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        return _parsed(setting, setting.flag, items)
    return _parsed(setting, setting.flag, str(value))


def _from_env(setting: Setting, raw: str) -> object:
    text = raw.strip()
    if setting.kind == "flag":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{setting.env}={raw!r}: expected true or false")
    if setting.kind == "list":
        return _parsed(setting, setting.env, [text])
    if setting.kind == "words":
        try:
            return _parsed(setting, setting.env, shlex.split(text))
        except ValueError as exc:
            raise ConfigError(f"{setting.env}: {exc}") from None
    if setting.choices and text not in setting.choices:
        raise ConfigError(f"{setting.env}={text!r}: must be one of {', '.join(setting.choices)}")
    return _parsed(setting, setting.env, text)


def _parsed(setting: Setting, origin: str, value: str | list[str]) -> object:
    if setting.name == "capabilities":
        try:
            return parse_capabilities(value)
        except UnknownCapability as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    if setting.name == "scenarios":
        try:
            return tuple(scenario_ids.check_name(v) for v in value)
        except ScenarioIdError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    if setting.name == "workers":
        if not (isinstance(value, str) and value.isdigit() and int(value) >= 1):
            raise ConfigError(f"{origin}={value!r}: expected a whole number of workers, 1 or more")
        return int(value)
    if setting.kind == "words":
        return tuple(value)
    if setting.kind == "path":
        return Path(str(value)).expanduser()
    return value


def _normalise(config: RunConfig) -> RunConfig:
    """Fold `--target flux` into embedded + the flux receiver, let a Flux release imply the
    flux receiver, and give the reference as the receiver where the suite runs one."""
    changes: dict[str, object] = {}
    receiver = config.receiver
    if config.target == "flux":
        if receiver == "reference":
            raise ConfigError("--target flux runs Flux's notification-controller; "
                              "--receiver reference contradicts it")
        changes["target"] = "embedded"
        receiver = "flux"
    if config.notification_controller and receiver is None:
        receiver = "flux"
    where = str(changes.get("target") or config.target)
    if receiver is None and where != "external":
        receiver = "reference"
    changes["receiver"] = receiver
    if not config.workers:
        changes["workers"] = DEFAULT_WORKERS.get(where, 1)
    return replace(config, **changes)  # type: ignore[arg-type]


def add_options(add: Callable[..., object], scope: Scope | None = None) -> None:
    """Register the settings (of `scope`, or all) with an argparse `add_argument` or a pytest
    group's `addoption`; every default is None, so that resolve() sees what was given."""
    for setting in SETTINGS:
        if scope is not None and setting.scope != scope:
            continue
        text = f"{setting.help} (env {setting.env})"
        kwargs: dict[str, object] = {"dest": setting.name, "help": text, "default": None}
        if setting.kind == "flag":
            kwargs["action"] = "store_true"
        else:
            if setting.kind in ("list", "words"):
                kwargs["action"] = "append"
            if setting.choices:
                kwargs["choices"] = setting.choices
            kwargs["metavar"] = setting.metavar or setting.name.upper()
        add(*setting.flags, **kwargs)


def pytest_args(config: RunConfig) -> list[str]:
    """The target settings that differ from their defaults, as the pytest plugin's flags."""
    args: list[str] = []
    default = RunConfig()
    for setting in SETTINGS:
        if setting.scope != "target":
            continue
        value = getattr(config, setting.name)
        if value == getattr(default, setting.name) or value is None:
            continue
        if setting.kind == "flag":
            args.append(setting.flag)
        elif setting.kind == "list":
            args += [f"{setting.flag}={item}" for item in sorted(value)]
        elif setting.kind == "words":
            args += [f"{setting.flag}={item}" for item in value]
        else:
            args.append(f"{setting.flag}={value}")
    return args


def documented_variables() -> list[str]:
    """Every RC_* variable a run honours."""
    return [*(s.env for s in SETTINGS), *(t.env for t in TIMINGS)]
