"""The diff run: a pool of Receivers on both sides, then requests against the pool.

Both stages are Hypothesis properties. A disagreement raises, Hypothesis shrinks it to a
minimal case, and the run starts again (next derived seed) ignoring the findings it has,
until the budget (`examples`, `receivers`, `max_time`) is spent. Requests shrink within
the pool: it is sorted simplest first, so shrinking the pool index moves to simpler
Receivers; a Receiver finding shrinks its spec (new Receivers are created on both sides).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from receiver_conformance.diff import compare, generator
from receiver_conformance.diff.cluster import Cluster, Rejected, answer
from receiver_conformance.diff.model import Answer, Built, ReceiverSpec, ReceiverState, RequestSpec
from receiver_conformance.diff.world import expected_path


@dataclass(frozen=True)
class Budget:
    seed: int = 0
    examples: int = 500        # requests in the search (shrinking not counted)
    receivers: int = 50        # the pool
    max_time: float = 600.0    # the whole run, seconds
    shrink_time: float = 60.0  # per finding, seconds
    pool_share: float = 0.5    # of max_time, at most, for the pool


@dataclass
class PoolEntry:
    name: str
    spec: ReceiverSpec
    states: dict[str, ReceiverState]
    paths: dict[str, str]  # side -> the hook path requests go to

    def complexity(self) -> int:
        return self.spec.complexity()


@dataclass
class Finding:
    """One disagreement, as small as shrinking made it, with both sides' answers."""

    key: tuple[str, ...]
    receiver: ReceiverSpec
    receiver_name: str
    states: dict[str, ReceiverState]
    differences: list[compare.Difference]
    request: RequestSpec | None = None
    built: Built | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    occurrences: int = 1
    shrunk: bool = True   # False: the shrink budget ran out first
    flaky: bool = False   # the minimal case did not repeat its disagreement


@dataclass
class Figures:
    receivers: int = 0
    rejected: int = 0
    requests: int = 0
    shrink_receivers: int = 0
    shrink_requests: int = 0
    pool_seconds: float = 0.0
    request_seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)


class Disagreement(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(repr(finding.key))
        self.finding = finding


class _OutOfBudget(BaseException):
    """The search budget is spent."""


class _ShrinkBudget(BaseException):
    """This finding's shrink budget is spent: keep the smallest case so far."""


class DiffRun:
    """One seeded comparison of two sides on one control plane."""

    def __init__(self, cluster: Cluster, urls: Mapping[str, str], budget: Budget,
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self.cluster = cluster
        self.left, self.right = cluster.sides
        self.urls = dict(urls)
        self.budget = budget
        self.progress = progress
        self.figures = Figures()
        self.findings: dict[tuple[str, ...], Finding] = {}
        self.pool: list[PoolEntry] = []
        self._started = time.monotonic()
        self._names = 0
        self._target: tuple[str, ...] | None = None  # the finding being shrunk
        self._last: Finding | None = None
        self._shrink_deadline = 0.0
        self._occurrences: Counter[tuple[str, ...]] = Counter()

    # -- the run -------------------------------------------------------------------------

    def run(self) -> None:
        began = time.monotonic()
        self._search(self._pool_property, self.budget.receivers - len(self.pool),
                     lambda: self.budget.receivers - len(self.pool),
                     self._started + self.budget.max_time * self.budget.pool_share)
        self.figures.pool_seconds = time.monotonic() - began
        self.pool.sort(key=PoolEntry.complexity)
        self.progress(f"pool: {len(self.pool)} Receivers in {self.figures.pool_seconds:.1f} s")
        if not self.pool:
            return
        began = time.monotonic()
        self._search(self._request_property, self.budget.examples,
                     lambda: self.budget.examples - self.figures.requests,
                     self._started + self.budget.max_time)
        self.figures.request_seconds = time.monotonic() - began

    def _search(self, make: Callable[[int, float], Callable[[], None]], first: int,
                remaining: Callable[[], int], deadline: float) -> None:
        attempt = 0
        while remaining() > 0 and time.monotonic() < deadline:
            self._target, self._last = None, None
            prop = make(attempt, deadline)
            try:
                prop()
            except _OutOfBudget:
                return
            except _ShrinkBudget:
                self._record(self._last, shrunk=False)
            except Disagreement as exc:
                self._record(exc.finding)
            except Flaky:
                self._record(self._last, flaky=True)
            else:
                return  # Hypothesis ran out of examples it could generate
            attempt += 1

    def _record(self, finding: Finding | None, *, shrunk: bool = True,
                flaky: bool = False) -> None:
        if finding is None:
            return
        finding.shrunk, finding.flaky = shrunk, flaky
        finding.occurrences = self._occurrences.get(finding.key, 1)
        self.findings[finding.key] = finding
        self.progress(f"finding {len(self.findings)}: {' '.join(finding.key)}"
                      + (" (shrink budget spent)" if not shrunk else "")
                      + (" (flaky)" if flaky else ""))

    def _settings(self, attempt: int, examples: int) -> Callable:
        def wrap(fn: Callable) -> Callable:
            fn = settings(max_examples=max(1, examples), database=None, deadline=None,
                          suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                          phases=(Phase.generate, Phase.shrink), print_blob=False)(fn)
            return seed(self.budget.seed * 1000 + attempt)(fn)
        return wrap

    # -- stage 1: Receivers --------------------------------------------------------------

    def _pool_property(self, attempt: int, deadline: float) -> Callable[[], None]:
        @self._settings(attempt, self.budget.receivers - len(self.pool))
        @given(generator.receivers())
        def prop(spec: ReceiverSpec) -> None:
            shrinking = self._tick(deadline, len(self.pool) >= self.budget.receivers)
            entry = self._deploy(spec, shrinking)
            assume(entry is not None)
            assert entry is not None
            if not shrinking:
                self.pool.append(entry)
                if len(self.pool) % 10 == 0:
                    self.progress(f"{len(self.pool)} Receivers")
            left, right = entry.states[self.left.name], entry.states[self.right.name]
            diffs = compare.receivers(left, right)
            if diffs:
                self._disagree(Finding(compare.receiver_key(diffs), spec, entry.name,
                                       entry.states, diffs), shrinking)
        return prop

    def _deploy(self, spec: ReceiverSpec, shrinking: bool) -> PoolEntry | None:
        self._names += 1
        name = f"{'s' if shrinking else 'r'}-{self._names:04d}"
        try:  # a suspended Receiver is suspended once Ready, as `flux suspend` does
            self.cluster.deploy(name, replace(spec, suspend=False))
        except Rejected:
            self.figures.rejected += 1
            self.cluster.delete_receiver(name)
            return None
        if shrinking:
            self.figures.shrink_receivers += 1
        else:
            self.figures.receivers += 1
        settled = self.cluster.settle(name, spec)
        if spec.suspend:
            self.cluster.suspend(name)
            settled = self.cluster.settle(name, spec)
        states = {side: state for side, (state, _) in settled.items()}
        paths = {}
        for side in self.cluster.sides:
            raw = settled[side.name][1]
            paths[side.name] = raw or expected_path(side, name, spec) or expected_path(
                side, name, ReceiverSpec(spec.type, spec.resources))  # some well-formed path
        return PoolEntry(name, spec, states, paths)

    # -- stage 2: requests ---------------------------------------------------------------

    def _request_property(self, attempt: int, deadline: float) -> Callable[[], None]:
        pool = self.pool

        @st.composite
        def cases(draw: st.DrawFn) -> tuple[int, RequestSpec]:
            index = draw(st.integers(0, len(pool) - 1))
            return index, draw(generator.requests(pool[index].spec.type))

        @self._settings(attempt, self.budget.examples - self.figures.requests)
        @given(cases())
        def prop(case: tuple[int, RequestSpec]) -> None:
            shrinking = self._tick(deadline, self.figures.requests >= self.budget.examples)
            entry, request = pool[case[0]], case[1]
            answers, built = self._exchange(entry, request)
            if shrinking:
                self.figures.shrink_requests += 1
            else:
                self.figures.requests += 1
                self.figures.statuses.update(f"{a.status}" for a in answers.values())
                if self.figures.requests % 250 == 0:
                    self.progress(f"{self.figures.requests} requests, "
                                  f"{len(self.findings)} findings")
            left, right = answers[self.left.name], answers[self.right.name]
            diffs = compare.answers(left, right)
            if diffs:
                key = compare.request_key(entry.spec.type, left, right)
                self._disagree(Finding(key, entry.spec, entry.name, entry.states, diffs,
                                       request, built, answers), shrinking)
        return prop

    def _exchange(self, entry: PoolEntry, request: RequestSpec) -> tuple[dict[str, Answer],
                                                                            Built]:
        builts = {side.name: generator.build(entry.spec, request, entry.paths[side.name])
                  for side in self.cluster.sides}
        before = self.cluster.snapshot()
        with ThreadPoolExecutor(len(builts)) as pool:
            futures = {side.name: pool.submit(self.cluster.send, side, self.urls[side.name],
                                              builts[side.name])
                       for side in self.cluster.sides}
            statuses = {name: f.result() for name, f in futures.items()}
        after = self.cluster.snapshot()
        return ({name: answer(code, before, after, name) for name, code in statuses.items()},
                builts[self.left.name])

    # -- shared --------------------------------------------------------------------------

    def _tick(self, deadline: float, spent: bool) -> bool:
        """Whether Hypothesis is shrinking; stop the search when its budget is spent."""
        if self._target is not None:
            if time.monotonic() > min(self._shrink_deadline, self._started
                                      + self.budget.max_time + self.budget.shrink_time):
                raise _ShrinkBudget
            return True
        if spent or time.monotonic() > deadline:
            raise _OutOfBudget
        return False

    def _disagree(self, finding: Finding, shrinking: bool) -> None:
        if not shrinking:
            self._occurrences[finding.key] += 1
            if finding.key in self.findings:
                self.findings[finding.key].occurrences += 1
                return
            self._target = finding.key
            self._shrink_deadline = time.monotonic() + self.budget.shrink_time
            self.progress(f"disagreement {' '.join(finding.key)}; shrinking")
        elif finding.key != self._target:
            return  # the shrinker must keep to the finding it is shrinking
        self._last = finding
        raise Disagreement(finding)
