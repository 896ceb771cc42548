"""Read the ``.feature`` files without running them, with pytest-bdd's Gherkin parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_bdd.exceptions import GherkinParseError
from pytest_bdd.parser import Feature, FeatureParser

from receiver_conformance import scenario_ids
from receiver_conformance.report.collector import feature_record, step_record


class FeatureFileError(Exception):
    """A .feature file that cannot be read or parsed."""


def feature_files(directory: Path) -> list[Path]:
    """The .feature files under directory, in name order (the guide's order)."""
    if not directory.is_dir():
        raise FeatureFileError(f"features directory not found: {directory}")
    return sorted(directory.rglob("*.feature"))


def parse_feature(path: Path, base: Path) -> Feature:
    """One parsed feature; its rel_filename is relative to base's parent."""
    try:
        return FeatureParser(str(base), str(path.relative_to(base))).parse()
    except GherkinParseError as exc:
        message = " ".join(str(exc.message).split())[:300]
        raise FeatureFileError(f"{path}:{exc.line}: {message}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureFileError(f"{path}: cannot read: {exc}") from exc


def not_run_results(directory: Path) -> dict[str, Any]:
    """Results in the shape of results.json, every scenario 'not run' (for docs and list)."""
    features = []
    scenarios = []
    for path in feature_files(directory):
        feature = parse_feature(path, directory)
        features.append(feature_record(feature))
        for template in feature.scenarios.values():
            rule_tags = template.rule.tags if template.rule else set()
            record: dict[str, Any] = {
                "id": f"{feature.rel_filename}:{template.line_number}",
                "scenario_id": scenario_ids.of_tags(template.tags),
                "feature": feature.name,
                "feature_file": feature.rel_filename,
                "name": template.name,
                "description": template.description.strip(),
                "line": template.line_number,
                "tags": scenario_ids.other_tags(template.tags | feature.tags | rule_tags),
                "example": {},
                "steps": [step_record(step, "not run") for step in template.steps],
                "outcome": "not run",
                "duration": None,
                "skip_reason": None,
                "error": None,
                "evidence": [],
            }
            examples = [
                {"name": ex.name or "", "header": ex.example_params, "rows": ex.examples}
                for ex in template.examples
                if ex.example_params
            ]
            if examples:
                record["examples"] = examples
            scenarios.append(record)
    return {"schema": 1, "target": None, "features": features, "scenarios": scenarios}
