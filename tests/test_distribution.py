"""The suite as a user gets it: the sdist and wheel built from this checkout, the wheel
installed into a fresh venv, used from an empty directory that holds a hostile pytest
configuration. Nothing of the checkout is on the path there."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tarfile
import venv
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
import yaml

from receiver_conformance.config import documented_variables
from receiver_conformance.controlplane import ControlPlane
from receiver_conformance.controlplane.processes import free_port
from receiver_conformance.flux.controllers import FluxControllers
from receiver_conformance.kube import wait_until
from receiver_conformance.paths import FEATURES
from tests.checkout import REPO_ROOT

pytestmark = pytest.mark.distribution

# What must ship inside the package for the suite to run from a wheel.
SHIPPED = (
    "receiver_conformance/suite.ini",
    "receiver_conformance/features/05_github.feature",
    "receiver_conformance/fixtures/guide/receiver-webapp.yaml",
    "receiver_conformance/fixtures/payloads/github-push.json",
    "receiver_conformance/fixtures/exposure/ingress.yaml",
    "receiver_conformance/fixtures/kind/cluster.yaml",
    "receiver_conformance/flux/deviations.yaml",
    "receiver_conformance/flux/disagreements.yaml",
    "receiver_conformance/flux/releases.yaml",
    "receiver_conformance/mutation/equivalent.yaml",
    "receiver_conformance/rules.yaml",
    "receiver_conformance/node/patches/traefik.patch",
    "receiver_conformance/reference/Dockerfile",
    "receiver_conformance/reference/deploy/deployment.yaml",
    "receiver_conformance/steps/conftest.py",
    "receiver_conformance/reference/__main__.py",
)
# A configuration that would break any pytest run that read it.
HOSTILE_INI = "[pytest]\naddopts = --no-such-option\n"
HOSTILE_PYPROJECT = '[tool.pytest.ini_options]\naddopts = "--no-such-option"\n'


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and, built from it, the wheel (`python -m build`, no network)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                           str(REPO_ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel (the suite alone, no `reference` extra); its bin/."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=True)
    bin_dir = root / "bin"
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=900, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    site = next((root / "lib").glob("python3*/site-packages"))
    (site / "pyproject.toml").write_text(HOSTILE_PYPROJECT)  # as some wheels leave one
    return bin_dir


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty directory outside the checkout, but for a hostile pytest configuration."""
    (tmp_path / "pytest.ini").write_text(HOSTILE_INI)
    (tmp_path / "pyproject.toml").write_text(HOSTILE_PYPROJECT)
    return tmp_path


def clean_env() -> dict[str, str]:
    """This environment without what would let the checkout leak into the installed venv."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("RC_")}


def run(bin_dir: Path, cwd: Path, *argv: str,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_wheel_holds_one_package_and_its_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"receiver_conformance"}
    assert [n for n in SHIPPED if n not in names] == []
    features = sorted(p.name for p in FEATURES.glob("*.feature"))
    assert sorted(Path(n).name for n in names if n.endswith(".feature")) == features
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]


def test_the_wheel_registers_its_commands_and_pytest_plugin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[pytest11]" in text and "receiver_conformance.pytest_plugin" in text
    assert "receiver-conformance = receiver_conformance.cli:main" in text
    assert "reference-receiver = receiver_conformance.reference.__main__:main" in text


def test_the_sdist_carries_the_license_the_changelog_and_the_docs(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {Path(n).name for n in archive.getnames()}
    assert {"LICENSE", "CHANGELOG.md", "suite.ini", "running.md", "scenario-ids.md"} <= names


def test_version_from_an_empty_directory(installed: Path, elsewhere: Path) -> None:
    done = run(installed, elsewhere, "receiver-conformance", "--version")
    assert done.returncode == 0, done.stderr
    first, pins = done.stdout.splitlines()
    assert first.startswith("receiver-conformance 0.")
    assert "Flux v" in pins and "Kubernetes v" in pins


def test_list_from_an_empty_directory(installed: Path, elsewhere: Path) -> None:
    done = run(installed, elsewhere, "receiver-conformance", "list")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "05_github.feature" in done.stdout


def test_the_scenarios_collect_whatever_configuration_lies_around(
    installed: Path, elsewhere: Path
) -> None:
    """pytest on the installed steps, as `run` starts it, ignores the hostile pytest.ini
    and pyproject.toml of the current directory and of site-packages."""
    code = ("import subprocess, sys\n"
            "from receiver_conformance.invocation import pytest_argv\n"
            "sys.exit(subprocess.call([*pytest_argv(), '--collect-only', '-q']))\n")
    done = run(installed, elsewhere, str(installed / "python"), "-c", code)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    collected = [line for line in done.stdout.splitlines() if "::test_" in line]
    assert len(collected) > 150, done.stdout[-2000:]
    assert all(line.startswith("steps/test_conformance.py::") for line in collected)


def test_the_reference_needs_its_extra_and_says_so(installed: Path, elsewhere: Path) -> None:
    """The suite alone does not install the reference receiver's requirements; started
    without them, the receiver names the one command that adds them."""
    done = run(installed, elsewhere, "reference-receiver", "--help")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "pip install 'receiver-conformance[reference]'" in done.stderr


# --- the README's quickstart for a receiver author, run as written from the installed wheel

QUICKSTART = re.compile(r"<!-- quickstart:receiver-author[^>]*-->\s*```sh\n(.*?)```", re.S)
# Ports of the quickstart; the test gives free ones instead, so a busy machine cannot clash.
QUICKSTART_PORTS = ("9292", "9440", "8080")


@pytest.fixture(scope="module")
def installed_with_reference(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its `reference` extra, as the quickstart's pipx line
    installs it; its bin/."""
    root = tmp_path_factory.mktemp("venv-reference")
    venv.create(root, with_pip=True)
    done = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", f"{wheel}[reference]"],
                          capture_output=True, text=True, timeout=900, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "bin"


def quickstart_script() -> str:
    """The README block, less its install line (the fixture installed the wheel)."""
    found = QUICKSTART.search((REPO_ROOT / "README.md").read_text())
    assert found, "README.md has no receiver-author quickstart block"
    lines = [line for line in found.group(1).splitlines()
             if not line.startswith(("pipx install", "pip install"))]
    script = "\n".join(lines)
    for port in QUICKSTART_PORTS:
        assert port in script
        script = script.replace(port, str(free_port()))
    return script


@pytest.mark.controlplane
def test_the_receiver_authors_quickstart_passes_as_written(
    installed_with_reference: Path, control_plane: ControlPlane, elsewhere: Path,
) -> None:
    """From an empty directory: the suite's CRDs applied, the gcr keys written, the
    reference started by its own command, the whole suite run against it as an external
    target. Every selected scenario passes or is skipped for a capability it lacks."""
    assert control_plane.kubectl is not None
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(installed_with_reference),
                                   str(control_plane.kubectl.parent), env.get("PATH", "")])
    env["KUBECONFIG"] = str(control_plane.kubeconfig)
    script = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + quickstart_script()
    child = subprocess.Popen(["bash", "-c", script], cwd=elsewhere, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        out, _ = child.communicate(timeout=1200)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 0, out[-4000:]
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed, \d+ skipped", summary), out[-3000:]
    assert int(summary.split()[0]) > 100, summary
    report = yaml.safe_load((elsewhere / "reports" / "conformance-report.yaml").read_text())
    assert report["suite"]["version"] == version("receiver-conformance")
    assert {"gcr-test-keys", "receiver-metrics", "receiver-log"} <= set(
        report["capabilities"]["supported"])


# --- the GitHub Action (action.yml), its shell steps run here as a runner would run them

EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def action() -> dict:
    return yaml.safe_load((REPO_ROOT / "action.yml").read_text())


def substituted(value: str, inputs: dict[str, str]) -> str:
    """`${{ inputs.x }}` and `${{ github.action_path }}` as the runner would fill them in."""
    defaults = {name: str(spec.get("default", "")) for name, spec in action()["inputs"].items()}

    def fill(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).partition(".")
        if scope == "inputs":
            return inputs.get(name, defaults[name])
        if match.group(1) == "github.action_path":
            return str(REPO_ROOT)
        raise AssertionError(f"action.yml uses {match.group(0)}, which this test cannot fill")

    return EXPRESSION.sub(fill, value)


def test_every_action_input_reaches_the_suite_as_its_variable() -> None:
    steps = action()["runs"]["steps"]
    (run_step,) = [s for s in steps if s.get("run", "").strip() == "receiver-conformance run"]
    known = set(documented_variables())
    assert set(run_step["env"]) <= known, set(run_step["env"]) - known
    (upload,) = [s for s in steps if "upload-artifact" in s.get("uses", "")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.report-dir }}"


@pytest.mark.controlplane
def test_the_actions_steps_run_the_suite_against_a_receiver(
    installed_with_reference: Path, wheel: Path, control_plane: ControlPlane, elsewhere: Path,
) -> None:
    """The action's shell steps, in a fresh directory, with the inputs a user would give:
    the wheel installed by its first step, the core profile run against the reference
    (started by its own command) by its second."""
    receiver, health = free_port(), free_port()
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(installed_with_reference), env.get("PATH", "")])
    log = (elsewhere / "receiver.log").open("wb")
    reference = subprocess.Popen(
        [str(installed_with_reference / "reference-receiver"), "--kubeconfig",
         str(control_plane.kubeconfig), "--receiver-addr", f"127.0.0.1:{receiver}",
         "--health-addr", f"127.0.0.1:{health}", "--metrics-addr", f"127.0.0.1:{free_port()}"],
        cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT)
    inputs = {"receiver-url": f"http://127.0.0.1:{receiver}", "profile": "core",
              "kubeconfig": str(control_plane.kubeconfig), "report-dir": "reports",
              "package": f"{wheel}[reference]"}
    try:
        wait_until(lambda: _ready(health), 60, "the reference receiver to be ready")
        for step in action()["runs"]["steps"]:
            if step.get("shell") != "bash":
                continue
            step_env = {**env, **{k: substituted(str(v), inputs)
                                  for k, v in step.get("env", {}).items()}}
            done = subprocess.run(["bash", "-e", "-c", substituted(step["run"], inputs)],
                                  cwd=elsewhere, env=step_env, capture_output=True, text=True,
                                  timeout=1200)
            assert done.returncode == 0, f"{step['name']}:\n{done.stdout[-3000:]}{done.stderr}"
    finally:
        reference.terminate()
        reference.wait(timeout=30)
        log.close()
    assert re.fullmatch(r"\d+ passed, 0 failed, \d+ skipped", done.stdout.strip().splitlines()[-1])
    assert (elsewhere / "reports" / "conformance-report.yaml").is_file()


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.controlplane
def test_flux_started_by_hand_passes_from_the_installed_wheel_but_for_known_deviations(
    installed_with_reference: Path, control_plane: ControlPlane, elsewhere: Path,
) -> None:
    """Flux's notification-controller, started with Flux's install flags as a user runs it,
    tested from the installed wheel as an external target: every failure is a known
    deviation (the suite's list applies because --implementation names Flux)."""
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(installed_with_reference), env.get("PATH", "")])
    with FluxControllers(control_plane.kubeconfig, ["notification-controller"]) as flux:
        receiver = flux["notification-controller"]
        done = run(installed_with_reference, elsewhere, "receiver-conformance", "run",
                   "--target", "external", "--kubeconfig", str(control_plane.kubeconfig),
                   "--receiver-url", receiver.url("receiver"),
                   "--metrics-url", receiver.metrics_url,
                   "--receiver-log", str(receiver.child.log_path),
                   "--implementation", "fluxcd/notification-controller",
                   "--implementation-version", "v1.9.3", "--profile", "all",
                   "--workers", "4", "--report-dir", "reports", timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, \d+ failed, \d+ skipped \(\d+ of the failures are known "
                        r"deviations\)", summary), summary
