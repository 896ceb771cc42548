"""Where the project's own files live."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
FEATURES = REPO_ROOT / "features"
REFERENCE_DEPLOY = REPO_ROOT / "reference" / "deploy"
FLUX_DEVIATIONS = REPO_ROOT / "harness" / "flux" / "deviations.yaml"
FLUX_DISAGREEMENTS = REPO_ROOT / "harness" / "flux" / "disagreements.yaml"
FLUX_RELEASE_CHANGES = REPO_ROOT / "harness" / "flux" / "releases.yaml"
