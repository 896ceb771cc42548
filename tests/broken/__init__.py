"""Deliberately broken receivers, for tests only: the reference with one flaw applied.

`python -m tests.broken <flaw> -- <reference receiver args>` runs the reference receiver
with the named flaw (see `tests.broken.flaws.FLAWS`). The conformance suite must fail the
scenarios that check what the flaw breaks; tests/test_suite_teeth.py proves it does.
"""
