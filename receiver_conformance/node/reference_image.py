"""The reference receiver as an image for the node, built here (there is no registry).

Two layers: a minimal Debian root filesystem with Python (`debootstrap --variant=minbase
--include=python3`, from the mirror the host's apt uses, cached once per suite), and this
package as installed here with the reference's requirements (the `reference` extra) in
/opt/receiver (`pip install --target`, by the host's Python of the same minor version), so the
image builds the same from a checkout or an installed wheel. The archive is cached in the
images cache, keyed by the package's files (an earlier build is removed when a new one is
made); it runs as user 65532 with
`python3 -m receiver_conformance.reference` as its entrypoint.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.distribution import REFERENCE_EXTRA, requirements
from receiver_conformance.gobuild import Log, cache_root, locked, stderr_log
from receiver_conformance.node.images import REGISTRY, Image, oci_archive
from receiver_conformance.paths import PACKAGE

APP_DIR = "opt/receiver"
USER = "65532:65532"

_stderr = stderr_log("node")


class ReferenceImageError(Exception):
    """The image could not be built."""


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The first Debian archive URI of the host's apt sources (deb822 or one-line form)."""
    files = sorted((sources_dir / "sources.list.d").glob("*.sources"))
    files += [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob(
        "*.list"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        uris = re.findall(r"^URIs:\s*(\S+)", text, re.M)
        uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s", text, re.M)
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise ReferenceImageError(f"no Debian archive in the apt sources under {sources_dir}")


def ensure_rootfs(log: Log = _stderr) -> Path:
    """The cached Debian root filesystem with python3 (debootstrap, minutes, once)."""
    return debian_rootfs("python3", ("python3",), log)


def debian_rootfs(label: str, include: Sequence[str], log: Log = _stderr,
                  marker: str = "usr/bin/python3") -> Path:
    """A cached minimal Debian root filesystem with the packages `include`, named
    `debian-<suite>-minbase-<label>`; `marker` is a file that a finished one has."""
    suite = versions.DEBIAN_SUITE
    directory = cache_root() / "rootfs"
    rootfs = directory / f"debian-{suite}-minbase-{label}"
    with locked(directory, log):
        if (rootfs / marker).exists():
            return rootfs
        if shutil.which("debootstrap") is None:
            raise ReferenceImageError(
                "debootstrap is missing; apt-get install --no-install-recommends debootstrap")
        tmp = directory / f".{rootfs.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"debootstrap {suite} (minbase, {label}) into {rootfs}")
        proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(include)}",
                               suite, str(tmp), debian_mirror()], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ReferenceImageError("debootstrap failed:\n" + "\n".join(
                (proc.stdout + proc.stderr).splitlines()[-20:]))
        shutil.rmtree(tmp / "var" / "cache" / "apt", ignore_errors=True)
        shutil.rmtree(tmp / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        tmp.rename(rootfs)
    return rootfs


def sources_digest() -> str:
    """A digest of what the image's second layer is made of: the package's files and the
    reference's requirements."""
    digest = hashlib.sha256()
    for file in package_files():
        digest.update(str(file.relative_to(PACKAGE)).encode() + b"\0")
        digest.update(file.read_bytes())
    digest.update("\n".join(requirements(REFERENCE_EXTRA)).encode())
    return digest.hexdigest()[:12]


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def image(tag: str) -> Image:
    return Image(f"{REGISTRY}/reference:{tag}",
                 ("/usr/bin/python3", "-m", "receiver_conformance.reference"), (),
                 env=("PATH=/usr/local/bin:/usr/bin:/bin", f"PYTHONPATH=/{APP_DIR}",
                      "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"),
                 user=USER)


def install_project(dest: Path, log: Log) -> None:
    """The package (as installed here) and the reference's requirements, no more, into
    DEST/opt/receiver: the image carries no pytest, Hypothesis or cosmic-ray."""
    if sys.version_info[:2] != (3, 11):
        raise ReferenceImageError("the image's Python is Debian's 3.11; run this with 3.11")
    app = dest / APP_DIR
    shutil.copytree(PACKAGE, app / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    log("pip install the reference's requirements into the image's /opt/receiver")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                           "--target", str(app), *requirements(REFERENCE_EXTRA)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReferenceImageError("pip install failed:\n" + proc.stderr[-3000:])


def ensure_reference_archive(log: Log = _stderr) -> tuple[Path, Image]:
    """The cached archive of the reference image (built when the project's files changed)."""
    rootfs = ensure_rootfs(log)
    tag = sources_digest()
    ref = image(tag)
    directory = cache_root() / "images"
    archive = directory / f"reference-{versions.DEBIAN_SUITE}-{tag}.tar"
    with locked(directory, log):
        if not archive.is_file():
            with tempfile.TemporaryDirectory(prefix="rc-app-", dir=directory) as app:
                install_project(Path(app), log)
                log(f"packing {archive.name}")
                oci_archive([rootfs, Path(app)], (ref,), archive)
            for old in directory.glob("reference-*.tar"):  # earlier builds of the project
                if old != archive:
                    old.unlink()
    return archive, ref
