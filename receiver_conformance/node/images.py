"""Container images built here, from a rootfs folder, because no registry is reachable.

`busybox_rootfs()` lays out Debian's static busybox (package busybox-static) with a link per
applet; `oci_archive()` packs a rootfs into an OCI image layout tarball, one layer, with one
manifest per tag; `import_archive()` hands it to the node's containerd (`ctr images import`).
Archives are cached in `${XDG_CACHE_HOME:-~/.cache}/receiver-conformance/images/`, keyed by
the busybox binary's digest.

Two tags share the one layer: BUSYBOX (`sh`, `httpd`, `wget`, `nc`, ... for test pods) and
PAUSE (the pods' sandbox image: `sleep` as PID 1).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance.gobuild import cache_root

BUSYBOX_BINARY = Path("/bin/busybox")
REGISTRY = "rc.local"
NOBODY = "65534"  # the user of the one-binary images (ETC names it)
ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnobody:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
}


class ImageError(Exception):
    """An image could not be built or imported."""


@dataclass(frozen=True)
class Image:
    """A tag in an archive and how to run it."""

    name: str
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...]
    env: tuple[str, ...] = ("PATH=/bin",)
    user: str = ""


def busybox_version() -> str:
    """`1.35.0`, from the binary's banner."""
    banner = subprocess.run([str(BUSYBOX_BINARY)], capture_output=True, text=True).stdout
    for word in banner.split():
        if word.startswith("v") and word[1:2].isdigit():
            return word[1:]
    raise ImageError(f"cannot tell the version of {BUSYBOX_BINARY}")


def busybox_images() -> tuple[Image, Image]:
    """The busybox and pause images' names for the installed busybox."""
    version = busybox_version()
    return (
        Image(f"{REGISTRY}/busybox:{version}", None, ("sh",)),
        Image(f"{REGISTRY}/pause:{version}", ("/bin/sleep", "2147483647"), ()),
    )


def busybox_rootfs(dest: Path) -> Path:
    """A rootfs with busybox in /bin, a link per applet, and a minimal /etc."""
    if not os.access(BUSYBOX_BINARY, os.X_OK):
        raise ImageError(f"{BUSYBOX_BINARY} is missing; apt-get install busybox-static")
    shutil.rmtree(dest, ignore_errors=True)
    for sub in ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "var/run"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX_BINARY, dest / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (dest / "bin" / applet).symlink_to("busybox")
    for path, text in ETC.items():
        (dest / path).write_text(text)
    return dest


def _layer(rootfs: Path) -> bytes:
    """The rootfs as an uncompressed tar, reproducible (sorted, zero times and owners)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
            if info is None:  # a socket: nothing an image carries
                continue
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest[7:]}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"digest": digest, "size": len(data)}


def oci_archive(rootfs: Path | Sequence[Path], images: tuple[Image, ...], dest: Path) -> Path:
    """Write an OCI image layout tarball of `rootfs` (one folder, or several laid on top of
    each other, one layer each) with a manifest per image."""
    layers = [_layer(r) for r in ([rootfs] if isinstance(rootfs, Path) else rootfs)]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as tar:
        layer_descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        **_blob(tar, gzip.compress(layer, mtime=0))}
                       for layer in layers]
        manifests = []
        for image in images:
            config = {
                "architecture": "amd64", "os": "linux",
                "config": {"Env": list(image.env), "WorkingDir": "/", "Cmd": list(image.cmd),
                           **({"Entrypoint": list(image.entrypoint)} if image.entrypoint
                              else {}),
                           **({"User": image.user} if image.user else {})},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }
            config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **_blob(tar, json.dumps(config).encode())}
            manifest = {"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": config_desc, "layers": layer_descs}
            manifests.append({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **_blob(tar, json.dumps(manifest).encode()),
                "annotations": {"io.containerd.image.name": image.name,
                                "org.opencontainers.image.ref.name": image.name.split(":")[-1]},
            })
        for name, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                          ("index.json", {"schemaVersion": 2, "manifests": manifests})):
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, dest)
    return dest


def ensure_busybox_archive() -> tuple[Path, tuple[Image, Image]]:
    """The cached archive holding the busybox and pause images (built once)."""
    images = busybox_images()
    digest = hashlib.sha256(BUSYBOX_BINARY.read_bytes()).hexdigest()[:12]
    directory = cache_root() / "images"
    archive = directory / f"busybox-{images[0].name.split(':')[-1]}-{digest}.tar"
    if not archive.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        rootfs = busybox_rootfs(directory / f"rootfs-busybox-{digest}")
        try:
            oci_archive(rootfs, images, archive)
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
    return archive, images


def binary_archive(binary: Path, image: Image, *more: Image,
                   under: Sequence[Path] = (), directory: str = "") -> Path:
    """The cached archive of a one-binary image: `binary` at /<directory>/<its name>, a
    minimal /etc and a /tmp, tagged as `image` and `more`; `under`: root filesystems laid
    below it, one layer each. Keyed by the binary's digest, where it goes and the images'
    names and settings."""
    images = (image, *more)
    key = hashlib.sha256(binary.read_bytes())
    key.update(repr((images, [str(u) for u in under], directory)).encode())
    digest = key.hexdigest()[:12]
    cache = cache_root() / "images"
    repository, _, tag = image.name.rpartition("/")[2].partition(":")
    archive = cache / f"{repository}-{tag}-{digest}.tar"
    if archive.is_file():
        return archive
    cache.mkdir(parents=True, exist_ok=True)
    rootfs = cache / f"rootfs-{repository}-{digest}"
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        for sub in ("etc", "tmp"):
            (rootfs / sub).mkdir(parents=True)
        (rootfs / "tmp").chmod(0o1777)
        if not under:
            for path, text in ETC.items():
                (rootfs / path).write_text(text)
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, rootfs / directory / binary.name)
        oci_archive([*under, rootfs], images, archive)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return archive


def import_archive(ctr: list[str], archive: Path) -> None:
    """`ctr images import` into the k8s.io namespace (the one the CRI plugin serves)."""
    proc = subprocess.run([*ctr, "-n", "k8s.io", "images", "import", str(archive)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ImageError(f"ctr images import {archive.name} failed: {proc.stderr.strip()}")
