"""Where the suite's own files live: inside the installed package, never the checkout."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FEATURES = PACKAGE / "features"
FIXTURES = PACKAGE / "fixtures"
STEPS = PACKAGE / "steps"
KIND_FIXTURES = FIXTURES / "kind"
REFERENCE = PACKAGE / "reference"
REFERENCE_DEPLOY = REFERENCE / "deploy"
FLUX_DEVIATIONS = PACKAGE / "flux" / "deviations.yaml"
FLUX_DISAGREEMENTS = PACKAGE / "flux" / "disagreements.yaml"
FLUX_RELEASE_CHANGES = PACKAGE / "flux" / "releases.yaml"
# The source checkout this package was imported from, when it was (an editable install or
# a run from the repository); None for an installed wheel.
CHECKOUT: Path | None = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() \
    and (PACKAGE.parent / ".git").exists() else None
