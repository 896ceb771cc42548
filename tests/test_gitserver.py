"""The local Git server, exercised with the real `git` client over HTTP."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from receiver_conformance.gitserver import GitError, GitServer, Served, git_env, run_git


@pytest.fixture
def server() -> Iterator[GitServer]:
    with GitServer() as git:
        yield git


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A client environment without the user's git configuration."""
    home = tmp_path / "home"
    home.mkdir()
    return git_env(home)


def test_clone_push_and_read_back(server: GitServer, env: dict[str, str],
                                  tmp_path: Path) -> None:
    url = server.create_repository("webapp", branch="main")
    first = server.commit("webapp", {"deploy/configmap.yaml": "data: one\n"}, "first")

    clone = tmp_path / "clone"
    run_git(["clone", "--quiet", url, str(clone)], env)
    assert (clone / "deploy" / "configmap.yaml").read_text() == "data: one\n"
    assert run_git(["rev-parse", "HEAD"], env, cwd=clone).strip() == first

    (clone / "deploy" / "configmap.yaml").write_text("data: two\n")
    run_git(["commit", "--quiet", "-am", "second"], env, cwd=clone)
    run_git(["push", "--quiet", "origin", "main"], env, cwd=clone)
    pushed = run_git(["rev-parse", "HEAD"], env, cwd=clone).strip()
    assert server.head("webapp") == pushed != first

    # The suite's own commit builds on what was pushed meanwhile.
    third = server.commit("webapp", {"README.md": "hello\n"}, "third")
    listed = run_git(["ls-remote", url, "refs/heads/main"], env).split()
    assert listed == [third, "refs/heads/main"]
    run_git(["pull", "--quiet", "--ff-only"], env, cwd=clone)
    assert run_git(["rev-parse", "HEAD^"], env, cwd=clone).strip() == pushed
    assert (clone / "deploy" / "configmap.yaml").read_text() == "data: two\n"
    assert (clone / "README.md").read_text() == "hello\n"


def test_traffic_is_smart_http(server: GitServer, env: dict[str, str], tmp_path: Path) -> None:
    url = server.create_repository("webapp", branch="master")
    server.commit("webapp", {"a": "1\n"}, "first", branch="master")
    server.served.clear()
    run_git(["clone", "--quiet", url, str(tmp_path / "clone")], env)
    assert Served("GET", "/webapp.git/info/refs", 200) in server.served
    assert Served("POST", "/webapp.git/git-upload-pack", 200) in server.served
    answer = requests.get(f"{url}/info/refs", params={"service": "git-upload-pack"}, timeout=10)
    assert answer.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert b"refs/heads/master" in answer.content


def test_each_repository_keeps_its_branch(server: GitServer) -> None:
    server.create_repository("one", branch="main")
    server.create_repository("two", branch="master")
    a = server.commit("one", {"f": "1"}, "one")
    b = server.commit("two", {"f": "2"}, "two", branch="master")
    assert server.head("one") == a
    assert server.head("two", "master") == b
    with pytest.raises(GitError):
        server.head("two", "main")


@pytest.mark.parametrize("path", [
    "/unknown.git/info/refs?service=git-upload-pack",
    "/unknown.git/git-upload-pack",
    "/../../etc/passwd",
    "/webapp/info/refs?service=git-upload-pack",  # the name without .git
])  # fmt: skip
def test_unknown_repository_is_404(server: GitServer, path: str) -> None:
    server.create_repository("webapp")
    answer = requests.get(server.url + path, timeout=10)
    assert answer.status_code == 404


def test_git_cannot_clone_or_push_an_unknown_repository(
    server: GitServer, env: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(GitError, match="not found"):
        run_git(["clone", "--quiet", server.repository_url("unknown"), str(tmp_path / "c")],
                env)
    with pytest.raises(LookupError):
        server.commit("unknown", {"f": "1"}, "nowhere")


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x.git", "sp ace"])
def test_repository_names_are_checked(server: GitServer, name: str) -> None:
    with pytest.raises(ValueError):
        server.create_repository(name)


def test_a_repository_is_created_once(server: GitServer) -> None:
    server.create_repository("webapp")
    with pytest.raises(ValueError, match="exists"):
        server.create_repository("webapp")


def test_commit_refuses_paths_outside_the_repository(server: GitServer) -> None:
    server.create_repository("webapp")
    with pytest.raises(ValueError, match="outside"):
        server.commit("webapp", {"../escape": "x"}, "escape")


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text()
        pids.update(int(pid) for pid in text.split())
    return pids


def test_nothing_is_left_after_stop(env: dict[str, str], tmp_path: Path) -> None:
    before_children = _children()
    before_threads = set(threading.enumerate())
    git = GitServer().start()
    url = git.create_repository("webapp")
    git.commit("webapp", {"f": "1"}, "first")
    run_git(["clone", "--quiet", url, str(tmp_path / "clone")], env)
    root, port = git.root, git.port
    assert root is not None and root.is_dir()

    git.stop()

    assert not root.exists(), "the repositories are removed"
    assert set(threading.enumerate()) <= before_threads, "no server thread is left"
    assert _children() <= before_children, "no git process is left"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing listens on the port"
    with pytest.raises(RuntimeError):
        _ = git.url
    git.stop()  # stopping twice is harmless
