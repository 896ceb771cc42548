"""A local Git server: bare repositories over smart HTTP, served by real Git.

Each request runs `git http-backend` as a CGI program behind a small threaded HTTP server on
a free 127.0.0.1 port, so clients (the `git` CLI, source-controller's go-git) talk the same
protocol as to any Git host. The suite commits through a working clone of its own and
`git push`, over the same HTTP, and gets the new commit's SHA back.

    with GitServer() as git:
        url = git.create_repository("webapp", branch="main")
        sha = git.commit("webapp", {"configmap.yaml": "..."}, "first revision")

Everything (threads, the socket, `git` processes, the temporary directory) is gone after
`stop()`; `stop()` waits for requests in flight, each bounded by REQUEST_TIMEOUT.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REQUEST_TIMEOUT = 30.0  # seconds one `git http-backend` run may take
GIT_TIMEOUT = 60.0  # seconds one `git` command of the suite may take
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
AUTHOR = ("receiver-conformance", "receiver-conformance@example.invalid")


class GitError(Exception):
    """A git command failed; the message carries its output."""


@dataclass(frozen=True)
class Served:
    """One request the server answered (for tests and evidence)."""

    method: str
    path: str  # without the query string
    status: int


def git_env(home: Path) -> dict[str, str]:
    """An environment in which git reads no user or system configuration."""
    name, email = AUTHOR
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
        "LC_ALL": "C",
    }


def run_git(args: list[str], env: Mapping[str, str], cwd: Path | None = None) -> str:
    """Run `git args...`; its stdout, or GitError with its output."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=dict(env), capture_output=True,
                              text=True, timeout=GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        raise GitError(f"git {args[0]} took over {GIT_TIMEOUT:g} s") from err
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed ({done.returncode}): "
                       f"{(done.stderr or done.stdout).strip()}")
    return done.stdout


class GitServer:
    """Bare repositories under a temporary directory, served over smart HTTP."""

    def __init__(self, host: str = "127.0.0.1", advertise: str | None = None) -> None:
        self.host = host  # the address it listens on
        self.advertise = advertise or host  # the host name in its URLs
        self.root: Path | None = None  # repositories live in root/repos
        self.served: list[Served] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one suite commit at a time per server

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> GitServer:
        self.root = Path(tempfile.mkdtemp(prefix="rc-git-"))
        (self.root / "repos").mkdir()
        (self.root / "work").mkdir()
        try:
            self._httpd = _Server((self.host, 0), _handler(self))  # the OS picks a free port
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
            raise
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="git-server",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wait for requests in flight, remove every repository."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()  # joins the request threads (block_on_close)
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the Git server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.advertise}:{self.port}"

    # -- repositories --------------------------------------------------------------------

    def repository_url(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def create_repository(self, name: str, branch: str = "main") -> str:
        """A new, empty bare repository whose HEAD is `branch`; its clone URL."""
        if not NAME.fullmatch(name) or name.endswith(".git"):
            raise ValueError(f"not a repository name: {name!r}")
        bare = self._bare(name)
        if bare.exists():
            raise ValueError(f"repository {name!r} exists already")
        env = self._env()
        run_git(["init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare)], env)
        run_git(["config", "http.receivepack", "true"], env, cwd=bare)  # allow pushes
        return self.repository_url(name)

    def commit(self, name: str, files: Mapping[str, str], message: str,
               branch: str = "main") -> str:
        """Commit `files` (path -> content, added or replaced) on `branch` and push it over
        HTTP, as a developer would; the new commit's SHA."""
        if not self._bare(name).is_dir():
            raise LookupError(f"no repository {name!r}")
        with self._lock:
            work = self._working_clone(name, branch)
            for path, content in files.items():
                target = (work / path).resolve()
                if work.resolve() not in target.parents:
                    raise ValueError(f"a path outside the repository: {path!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            env = self._env()
            run_git(["add", "--all"], env, cwd=work)
            run_git(["commit", "--quiet", "--allow-empty", "-m", message], env, cwd=work)
            run_git(["push", "--quiet", "origin", f"HEAD:refs/heads/{branch}"], env, cwd=work)
            return self.head(name, branch)

    def head(self, name: str, branch: str = "main") -> str:
        """The SHA `branch` points at in the served repository."""
        out = run_git(["rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}"],
                      self._env(), cwd=self._bare(name))
        return out.strip()

    # -- internals -----------------------------------------------------------------------

    def _bare(self, name: str) -> Path:
        if self.root is None:
            raise RuntimeError("the Git server is not running")
        return self.root / "repos" / f"{name}.git"

    def _env(self) -> dict[str, str]:
        assert self.root is not None
        return git_env(self.root)

    def _working_clone(self, name: str, branch: str) -> Path:
        """The suite's clone of `name`, at the served tip of `branch` (if it has one)."""
        assert self.root is not None
        work = self.root / "work" / name
        env = self._env()
        if not work.exists():
            run_git(["clone", "--quiet", self.repository_url(name), str(work)], env)
        run_git(["fetch", "--quiet", "origin"], env, cwd=work)
        remote = run_git(["branch", "--remotes", "--list", f"origin/{branch}"], env, cwd=work)
        if remote.strip():
            run_git(["checkout", "--quiet", "-B", branch, f"origin/{branch}"], env, cwd=work)
            run_git(["reset", "--quiet", "--hard", f"origin/{branch}"], env, cwd=work)
        else:
            # A new branch starts from nothing: an unborn HEAD, an empty index and tree.
            run_git(["symbolic-ref", "HEAD", f"refs/heads/{branch}"], env, cwd=work)
            run_git(["read-tree", "--empty"], env, cwd=work)
            run_git(["clean", "--quiet", "-d", "--force", "-x"], env, cwd=work)
        return work

    def _cgi_env(self, handler: BaseHTTPRequestHandler, path: str, query: str) -> dict[str, str]:
        assert self.root is not None
        env = {
            **self._env(),
            "GIT_PROJECT_ROOT": str(self.root / "repos"),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": handler.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": handler.client_address[0],
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
        }
        for header, variable in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                                 ("Git-Protocol", "GIT_PROTOCOL")):
            if handler.headers.get(header):
                env[variable] = handler.headers[header]
        return env

    def _known(self, path: str) -> bool:
        """Whether `path` names a served repository (its first segment, NAME.git)."""
        first = path.lstrip("/").split("/", 1)[0]
        return (bool(NAME.fullmatch(first)) and first.endswith(".git")
                and self._bare(first.removesuffix(".git")).is_dir())


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for every request thread


def _handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_GitHandler):
        git = server

    return Handler


class _GitHandler(BaseHTTPRequestHandler):
    """Hands each request to `git http-backend` (CGI) and relays its answer."""

    git: GitServer
    timeout = REQUEST_TIMEOUT  # an idle or stuck client does not hold a thread forever

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are kept in GitServer.served, not printed

    def _backend(self) -> None:
        path, _, query = self.path.partition("?")
        if not self.git._known(path):
            self._answer(404, b"no such repository\n", "text/plain")
            return
        body = self._body()
        try:
            done = subprocess.run(["git", "http-backend"], input=body, capture_output=True,
                                  env=self.git._cgi_env(self, path, query),
                                  timeout=REQUEST_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            self._answer(504, b"git http-backend timed out\n", "text/plain", path)
            return
        head, blank, payload = done.stdout.partition(b"\r\n\r\n")
        if not blank:
            head, blank, payload = done.stdout.partition(b"\n\n")
        status, headers = _cgi_headers(head)
        if done.returncode != 0 and not headers:
            self._answer(500, done.stderr[-2000:], "text/plain", path)
            return
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.git.served.append(Served(self.command, path, status))

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # the empty trailer line
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, content_type: str, path: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.git.served.append(Served(self.command, path or self.path.partition("?")[0],
                                      status))


def _cgi_headers(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    """The status and headers of a CGI answer (`Status:` absent means 200)."""
    status, headers = 200, []
    for line in head.decode("latin-1").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key.strip().lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((key.strip(), value.strip()))
    return status, headers
