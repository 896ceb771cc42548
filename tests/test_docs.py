"""The README is a front door and docs/ holds the topics; both quote only what exists.

Every `receiver-conformance SUBCOMMAND` quoted (in a code block or in inline code) names a
subcommand of the CLI, and every `--flag` after it is one of that subcommand's; every
`make TARGET` is a target of the Makefile; every relative link leads to a file of the
checkout, and its `#anchor` to a heading of that file.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from receiver_conformance import cli
from receiver_conformance.report import matrix, verified
from tests.checkout import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md")),
         *sorted((REPO_ROOT / "conformance" / "reports").rglob("README.md"))]
README_MAX_LINES = 210

# --- reading a Markdown page: its code, its links, its headings ---

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
COMMENT = re.compile(r"(^|\s)#.*$")
OUTSIDE = ("http://", "https://", "mailto:")


@dataclass(frozen=True)
class Quote:
    """A piece of code a page quotes: a logical line of a code block, or an inline span."""

    line: int
    text: str


def split_fences(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The page's lines (numbered from 1) inside code blocks, and outside them."""
    inside: list[tuple[int, str]] = []
    outside: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        (inside if fenced else outside).append((number, line))
    return inside, outside


def block_quotes(lines: list[tuple[int, str]]) -> Iterator[Quote]:
    """Logical lines of code blocks, comments dropped: a line ending in a backslash goes on
    with the next, and so does a synopsis line that starts with `[`."""
    current: Quote | None = None
    joined = False  # the previous line ended in a backslash
    previous = 0
    for number, raw in lines:
        line = COMMENT.sub("", raw).rstrip()
        adjacent = number == previous + 1
        previous = number
        continues = current is not None and adjacent and (joined or line.lstrip().startswith("["))
        if continues and current is not None:
            current = Quote(current.line, f"{current.text} {line.rstrip(chr(92)).strip()}")
        else:
            if current is not None:
                yield current
            current = Quote(number, line.rstrip("\\").strip())
        joined = line.endswith("\\")
    if current is not None:
        yield current


def inline_quotes(lines: list[tuple[int, str]]) -> Iterator[Quote]:
    """Inline code spans, paragraph by paragraph (a span may wrap onto the next line)."""
    paragraph: list[tuple[int, str]] = []
    for number, line in [*lines, (0, "")]:
        if line.strip():
            paragraph.append((number, line))
            continue
        if paragraph:
            text = "\n".join(part for _, part in paragraph)
            for found in INLINE_CODE.finditer(text):
                line_no = paragraph[0][0] + text.count("\n", 0, found.start())
                yield Quote(line_no, " ".join(found.group(1).split()))
        paragraph = []


def quotes(path: Path) -> list[Quote]:
    inside, outside = split_fences(path.read_text(encoding="utf-8"))
    return [*block_quotes(inside), *inline_quotes(outside)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    _, outside = split_fences(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for _, line in outside:
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            name, n = base, 0
            while name in found:  # GitHub numbers repeated headings: x, x-1, x-2
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


# --- what exists: the CLI's commands and flags, the Makefile's targets ---


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


PARSER = cli.build_parser()
COMMANDS = subcommands(PARSER)


def make_targets(makefile: Path = REPO_ROOT / "Makefile") -> set[str]:
    rule = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*:(?!=)")
    targets: set[str] = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        found = rule.match(line)
        if found:
            targets.update(name for name in found.group(1).split() if name != ".PHONY")
    return targets


TARGETS = make_targets()

# --- the checks: each returns one message per problem, "page:line: what is wrong" ---

COMMAND = re.compile(r"(?<![\w/.\[$-])receiver-conformance(?=\s|$)(.*)")
MAKE = re.compile(r"(?<![\w/.$(-])make(?=\s)(.*)")
SEPARATORS = re.compile(r"\|\||&&|[|;&>()]")
FLAG = re.compile(r"^\[?(--?[A-Za-z][\w-]*)")


def _words(rest: str) -> list[str]:
    return SEPARATORS.split(rest, maxsplit=1)[0].split()


def check_command(words: list[str]) -> list[str]:
    """What is wrong with `receiver-conformance WORDS`: an unknown subcommand, or a flag
    that neither it nor (for `a|b`) any alternative takes."""
    if not words:
        return []
    parsers = [PARSER]
    if not words[0].startswith("-"):
        if words[0] not in COMMANDS:
            return [f"`receiver-conformance {words[0]}` names no subcommand "
                    f"(there are: {', '.join(sorted(COMMANDS))})"]
        parsers, words = [COMMANDS[words[0]]], words[1:]
        nested = subcommands(parsers[0])
        if words and nested and all(w in nested for w in words[0].split("|")):
            parsers, words = [nested[w] for w in words[0].split("|")], words[1:]
    problems = []
    for word in words:
        if word in ("--", "[--"):  # what follows goes to pytest
            break
        flag = FLAG.match(word)
        if flag and not any(flag.group(1) in options(p) for p in parsers):
            prog = " or ".join(p.prog for p in parsers)
            problems.append(f"`{prog}` has no option {flag.group(1)}")
    return problems


def check_cli(path: Path) -> list[str]:
    problems = []
    for quote in quotes(path):
        for found in COMMAND.finditer(quote.text):
            problems += [f"{path.name}:{quote.line}: {problem} in `{quote.text}`"
                         for problem in check_command(_words(found.group(1)))]
    return problems


def check_make(path: Path) -> list[str]:
    problems = []
    for quote in quotes(path):
        for found in MAKE.finditer(quote.text):
            for word in _words(found.group(1)):
                if "=" in word or word.startswith("-"):
                    continue  # a variable (N=20) or an option
                if word not in TARGETS:
                    problems.append(f"{path.name}:{quote.line}: `make {word}` is no target of "
                                    f"the Makefile (there are: {', '.join(sorted(TARGETS))})")
    return problems


def check_links(path: Path) -> list[str]:
    _, outside = split_fences(path.read_text(encoding="utf-8"))
    problems = []
    for number, line in outside:
        for found in LINK.finditer(line):
            address = found.group(1)
            if address.startswith(OUTSIDE):
                continue
            file_part, _, anchor = address.partition("#")
            target = (path.parent / file_part).resolve() if file_part else path
            if not target.exists():
                problems.append(f"{path.name}:{number}: link ({address}) leads to no file "
                                f"({target})")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                problems.append(f"{path.name}:{number}: link ({address}): {target.name} has no "
                                f"heading with the anchor #{anchor}")
    return problems


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "commands": check_cli,
    "make": check_make,
    "links": check_links,
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_page_quotes_only_what_exists(page: Path, check: str) -> None:
    problems = CHECKS[check](page)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# --- the checks have teeth: what each must catch, and what it must let pass ---


@pytest.mark.parametrize(("markdown", "check", "expected"), [
    ("`receiver-conformance run --target node`", check_cli, []),
    ("`receiver-conformance frobnicate`", check_cli, ["names no subcommand"]),
    ("`receiver-conformance run --frob 1`", check_cli, ["has no option --frob"]),
    ("`receiver-conformance --version`", check_cli, []),
    ("`receiver-conformance node up --install-packages`", check_cli, []),
    ("`receiver-conformance node down --install-packages`", check_cli, ["no option"]),
    ("`receiver-conformance node up|down|env`", check_cli, []),
    ("`receiver-conformance verified reports --readme docs/flux.md`", check_cli, []),
    ("`receiver-conformance verified reports --page docs/flux.md`", check_cli, []),
    ("`pip install 'receiver-conformance[reference]'`", check_cli, []),
    ("```sh\nreceiver-conformance run --target flux \\\n    --no-such-flag\n```", check_cli,
     ["has no option --no-such-flag"]),
    ("```sh\nreceiver-conformance run [--target T]\n      [--bogus]  # external\n```", check_cli,
     ["has no option --bogus"]),
    ("```sh\nreceiver-conformance run -- -x --pytest-only\n```", check_cli, []),
    ("```sh\nreceiver-conformance run   # --not-a-flag, a comment\n```", check_cli, []),
    ("a span that wraps: `receiver-conformance run\n--wrapped`", check_cli,
     ["has no option --wrapped"]),
    ("`make conformance`", check_make, []),
    ("`make flake N=20 TARGET=flux`", check_make, []),
    ("`make deploy`", check_make, ["`make deploy` is no target"]),
    ("```sh\nmake test   # make nothing-here is a comment\n```", check_make, []),
    ("[the targets](targets.md#capabilities)", check_links, []),
    ("[gone](no-such-page.md)", check_links, ["leads to no file"]),
    ("[bad anchor](targets.md#no-such-heading)", check_links, ["no heading with the anchor"]),
    ("[outside](https://example.invalid/x.md)", check_links, []),
])
def test_the_checks_catch_what_they_must(
    tmp_path: Path, markdown: str, check: Callable[[Path], list[str]], expected: list[str],
) -> None:
    page = tmp_path / "docs" / "sample.md"
    page.parent.mkdir()
    (page.parent / "targets.md").write_text("# Targets\n\n## Capabilities\n")
    page.write_text(markdown + "\n")
    problems = check(page)
    assert len(problems) == len(expected), problems
    for problem, wanted in zip(problems, expected, strict=True):
        assert wanted in problem, problems


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Where Flux differs, and why", "where-flux-differs-and-why"),
    ("Flaky scenarios: `make flake`", "flaky-scenarios-make-flake"),
    ("The node's edge: Traefik and MetalLB", "the-nodes-edge-traefik-and-metallb"),
    ("Differential testing: `receiver-conformance diff`",
     "differential-testing-receiver-conformance-diff"),
])
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


# --- the README is a front door ---


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines, more than {README_MAX_LINES}: it is the front door; "
        "move the topic into a page of docs/ and link it from 'Where to go next'")


def test_the_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    linked = {Path(m.group(1).partition("#")[0]).name for m in LINK.finditer(text)
              if m.group(1).startswith("docs/")}
    missing = sorted(p.name for p in DOCS.glob("*.md") if p.name not in linked)
    assert not missing, f"README.md links no docs/ page named {', '.join(missing)}"


def test_the_readme_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    inside, _ = split_fences(section)
    commands = [q.text for q in block_quotes(inside) if q.text]
    assert commands == ["make conformance", "make test"], commands


def test_the_receiver_authors_quickstart_is_in_the_readme() -> None:
    """tests/test_distribution.py runs this block as written, from the installed wheel."""
    text = README.read_text(encoding="utf-8")
    assert re.search(r"<!-- quickstart:receiver-author[^>]*-->\s*```sh\n.*?```\n<!-- /quickstart -->",
                     text, re.S), "README.md lost its receiver-author quickstart block"


# --- generated tables and the pages they go to ---


@pytest.mark.parametrize(("make_target", "start", "end"), [
    ("verified", verified.START, verified.END),
    ("matrix", matrix.START, matrix.END),
])
def test_generated_tables_have_their_markers_where_make_writes(
    make_target: str, start: str, end: str,
) -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split(f"\n{make_target}:", 1)[1].split("\n\n", 1)[0]
    found = re.search(r"--(?:readme|page) (\S+)", recipe)
    assert found, f"make {make_target} names no page to update (--readme PAGE)"
    page = REPO_ROOT / found.group(1)
    text = page.read_text(encoding="utf-8")
    assert text.count(start) == 1 and text.count(end) == 1, f"{page.name} lacks {start} ... {end}"
    assert text.index(start) < text.index(end)
    assert start not in README.read_text(encoding="utf-8"), "the table moved to docs/"


def test_the_guides_further_reading_names_pages_that_exist() -> None:
    missing = [page for page, _ in cli.FURTHER_READING if not (DOCS / page).is_file()]
    assert not missing, f"cli.FURTHER_READING names pages docs/ lacks: {missing}"
