"""Mutation testing of reference/ with cosmic-ray, the conformance suite as the test.

`python -m receiver_conformance.mutation.run` (`make mutation`): one control plane for the whole run; each
mutant of a sampled module is started as the reference receiver and checked by the feature
files that exercise that module (`features.py`), stopping at the first failing scenario.
Nothing here imports `reference`: the mutated copy must be the one the receiver loads.
"""
