"""Binds every feature file to pytest: one test per scenario (and per example row)."""

from pytest_bdd import scenarios

from receiver_conformance.paths import FEATURES

scenarios(str(FEATURES))
