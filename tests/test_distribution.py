"""The suite as a user gets it: the sdist and wheel built from this checkout, the wheel
installed into a fresh venv, used from an empty directory that holds a hostile pytest
configuration. Nothing of the checkout is on the path there."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

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
                          capture_output=True, text=True, timeout=900)
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


def run(bin_dir: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("RC_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


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


def test_the_sdist_carries_the_license_and_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {Path(n).name for n in archive.getnames()}
    assert {"LICENSE", "CHANGELOG.md", "suite.ini"} <= names


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
