"""kind's node image, built here from sources, with every image kubeadm asks for preloaded.

kind's own builder (`kind build node-image`) takes Kubernetes' binaries and image archives
but pulls the rest (etcd, CoreDNS, pause, kindnetd, local-path-provisioner) from registries,
and kindnetd's module is not served by the Go module proxy. So the same steps run here, by
this module, on the engine the harness owns:

1. the base: Debian with systemd, containerd, runc and the CNI plugins (`base`), with kind's
   node files taken from kind's module at its pinned version (entrypoint, systemd units,
   containerd configuration; `images/base/files`) and the settings kind's base image makes;
2. a build container of it: kubeadm, kubelet and kubectl copied in, `/kind/version`, the
   containerd base spec that kind's configuration names, a bridge CNI configuration (the
   cluster runs without kindnet: `networking.disableDefaultCNI`), and containerd told to keep
   pods' OOM scores at or above its own (`restrict_oom_score_adj`: the engine's containers
   cannot hold CAP_SYS_RESOURCE where the host's bounding set lacks it, `caps`);
3. containerd started inside, the image archives built here imported into its `k8s.io`
   namespace under the names kubeadm asks for (kube-apiserver, kube-controller-manager,
   kube-scheduler, kube-proxy, etcd, CoreDNS, pause);
4. `docker commit` with kind's entrypoint, then `docker save` into the cache, keyed by a
   digest of every input, so a later engine only loads it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from receiver_conformance import versions
from receiver_conformance.controlplane import binaries as k8s
from receiver_conformance.gobuild import Log, cache_root, download, find_go, go_env, stderr_log
from receiver_conformance.kind import base, binary
from receiver_conformance.kind.engine import DOCKER, Engine
from receiver_conformance.node.images import REGISTRY, Image, binary_archive
from receiver_conformance.node.reference_image import debian_rootfs

BUILDER = "2"  # bump when the steps below change what the image holds
NODE_BINARIES = ("kubeadm", "kubelet", "kubectl")
KUBE_REGISTRY = "registry.k8s.io"
BIN = "usr/local/bin"  # where Kubernetes' and etcd's images keep their binary
# kind's base image settings (its Dockerfile), applied to ours.
UNIT_LINKS_REMOVED = (
    "lib/systemd/system/multi-user.target.wants", "etc/systemd/system/multi-user.target.wants",
    "lib/systemd/system/local-fs.target.wants", "lib/systemd/system/basic.target.wants",
)
ENABLED = ("kubelet.service", "containerd.service", "undo-mount-hacks.service")
MASKED = ("systemd-binfmt.service",)
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap", "ptp")
POD_SUBNET = "10.244.0.0/16"
PROXY_PACKAGES = ("iptables", "conntrack", "nftables", "ipset", "kmod")
ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]'
CONTAINERD_CONFIG = "/etc/containerd/config.toml"

_stderr = stderr_log("kind")


class NodeImageError(Exception):
    """The node image cannot be built; the message says what is missing."""


@dataclass(frozen=True)
class NodeImage:
    """The committed image's name and the archive it is saved in."""

    name: str
    archive: Path


def kind_module_dir(env: Mapping[str, str] | None = None, log: Log = _stderr) -> Path:
    """kind's module at its pinned version, from the module cache (downloaded if absent)."""
    go = find_go(env)
    if not go:
        raise NodeImageError("kind's module is needed and there is no Go toolchain")
    module, version = versions.KIND_MODULE
    where = cache_root(env) / "kind"
    where.mkdir(parents=True, exist_ok=True)
    return Path(download(go, module, version, go_env(env), log, cwd=where)["Dir"])


def kube_image(name: str) -> str:
    return f"{KUBE_REGISTRY}/{name}:{versions.KUBERNETES}"


def component_images(log: Log = _stderr) -> list[tuple[tuple[str, ...], Path]]:
    """(image names, OCI archive) of every image the cluster's pods run, built here."""
    bins = binary.ensure_kubernetes(log=log)
    found = {name: bins / name for name in (*NODE_BINARIES, "kube-apiserver",
                                             "kube-controller-manager", "kube-scheduler",
                                             "kube-proxy", "etcd")}
    on_path = ("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",)
    archives = []
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        image = Image(kube_image(name), None, (), env=on_path)
        archives.append(((image.name,), binary_archive(found[name], image, directory=BIN)))
    etcd = Image(f"{KUBE_REGISTRY}/etcd:{versions.ETCD.lstrip('v')}-0", None, (), env=on_path)
    archives.append(((etcd.name,), binary_archive(found["etcd"], etcd, directory=BIN)))
    coredns = Image(f"{KUBE_REGISTRY}/coredns/coredns:{versions.COREDNS[1]}", ("/coredns",), ())
    archives.append(((coredns.name,), binary_archive(binary.ensure_coredns(log=log), coredns)))
    pauses = [Image(f"{KUBE_REGISTRY}/pause:{tag}", ("/pause",), ())
              for tag in sorted({versions.PAUSE, kind_sandbox_tag()})]
    archives.append((tuple(p.name for p in pauses),
                     binary_archive(binary.ensure_pause(log=log), *pauses)))
    proxy_base = debian_rootfs("kube-proxy", PROXY_PACKAGES, log, marker="usr/sbin/iptables")
    proxy = Image(kube_image("kube-proxy"), None, (), env=on_path)
    archives.append(((proxy.name,),
                     binary_archive(found["kube-proxy"], proxy, under=[proxy_base],
                                    directory=BIN)))
    return archives


def kind_sandbox_tag() -> str:
    """The pause tag kind's containerd configuration names as its sandbox image."""
    text = (kind_module_dir() / "images/base/files/etc/containerd/config.toml").read_text()
    for line in text.splitlines():
        if line.strip().startswith("sandbox_image"):
            return line.split('"')[1].rpartition(":")[2]
    raise NodeImageError("kind's containerd configuration names no sandbox image")


def cni_config() -> str:
    """One node's pod network: a bridge with host-local addresses, ports mapped."""
    return json.dumps({
        "cniVersion": "1.0.0", "name": "rc-kind",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2)


def digest(archives: Sequence[tuple[tuple[str, ...], Path]]) -> str:
    """Of every input: the builder, the base packages, kind, the binaries, the archives."""
    key = hashlib.sha256(f"{BUILDER} {base.digest()} {versions.KIND_MODULE}".encode())
    bins = k8s.cache_dir()
    for name in NODE_BINARIES:
        key.update(hashlib.sha256((bins / name).read_bytes()).digest())
    for names, archive in archives:
        key.update(f"{names} {archive.name}".encode())
    key.update(cni_config().encode())
    return key.hexdigest()[:12]


def image_name(tag_digest: str) -> str:
    return f"{REGISTRY}/kind-node:{versions.KUBERNETES}-{tag_digest}"


def ensure_node_image(engine: Engine, log: Log = _stderr) -> NodeImage:
    """The node image loaded into `engine`: from the cache, or built first (minutes)."""
    archives = component_images(log)
    name = image_name(digest(archives))
    saved = cache_root() / "kind" / "images" / f"kind-node-{name.rpartition(':')[2]}.tar"
    if engine.docker("images", "-q", name).stdout.strip():
        return NodeImage(name, saved)
    if saved.is_file():
        began = time.monotonic()
        with saved.open("rb") as stream:
            engine.docker("load", stdin=stream, timeout=900)
        log(f"loaded {name} in {time.monotonic() - began:.1f} s")
        return NodeImage(name, saved)
    began = time.monotonic()
    _build(engine, name, archives, log)
    saved.parent.mkdir(parents=True, exist_ok=True)
    for old in saved.parent.glob("kind-node-*.tar"):
        old.unlink()
    tmp = saved.with_suffix(".tmp")
    engine.docker("save", "--output", str(tmp), name, timeout=900)
    tmp.replace(saved)
    log(f"built {name} in {time.monotonic() - began:.1f} s")
    return NodeImage(name, saved)


def _build(engine: Engine, name: str, archives: Sequence[tuple[tuple[str, ...], Path]],
           log: Log) -> None:
    rootfs = base.ensure_rootfs(log)
    raw = base.image_name()
    base.import_image(engine, rootfs, raw, log)
    files = kind_module_dir(log=log) / "images" / "base" / "files"
    container = f"rc-kind-build-{name.rpartition(':')[2]}"
    engine.attempt("rm", "-f", container)
    engine.docker("run", "--detach", "--name", container, "--privileged",
                  "--entrypoint", "sleep", raw, "infinity")
    try:
        _lay_out(engine, container, files, log)
        _preload(engine, container, archives, log)
        # (`docker commit` cannot set STOPSIGNAL; kind removes its nodes with `rm -f`)
        engine.docker("commit", "--change", f"ENTRYPOINT {ENTRYPOINT}", "--change",
                      "CMD []", "--change", "ENV container=docker", container, name,
                      timeout=900)
    finally:
        engine.attempt("rm", "-f", container, timeout=120)


def _exec(engine: Engine, container: str, script: str, timeout: float = 300.0) -> str:
    proc = engine.attempt("exec", container, "bash", "-ec", script, timeout=timeout)
    if proc.returncode != 0:
        detail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        raise NodeImageError(f"in the build container: {script.strip().splitlines()[0]}...: "
                             f"{detail}")
    return proc.stdout


def _lay_out(engine: Engine, container: str, files: Path, log: Log) -> None:
    """kind's node files and its base image's settings, the binaries, the CNI config."""
    log("laying out the node: kind's files, systemd units, kubeadm, kubelet, kubectl")
    engine.docker("cp", f"{files}/.", f"{container}:/")
    bins = k8s.cache_dir()
    for name in NODE_BINARIES:
        engine.docker("cp", str(bins / name), f"{container}:/usr/bin/{name}")
    removed = " ".join(f"/{d}/*" for d in UNIT_LINKS_REMOVED)
    links = " ".join(f"ln -sf /usr/lib/cni/{p} /opt/cni/bin/{p};" for p in CNI_PLUGINS)
    _exec(engine, container, f"""
chmod -R u+w /kind /etc /usr/local/bin
chmod 0755 /usr/local/bin/* /kind/bin/* /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl
chown root:root /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl
find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f {removed} /lib/systemd/system/sockets.target.wants/*udev* \\
      /lib/systemd/system/sockets.target.wants/*initctl* /etc/systemd/system/*.wants/*
echo ReadKMsg=no >> /etc/systemd/journald.conf
ln -sf /usr/bin/containerd /usr/local/bin/containerd
ln -sf /usr/bin/ctr /usr/local/bin/ctr
systemctl enable {' '.join(ENABLED)}
systemctl mask {' '.join(MASKED)}
mkdir -p /etc/kubernetes/manifests /opt/cni/bin /etc/cni/net.d /kind/manifests
{links}
printf '%s' '{versions.KUBERNETES}' > /kind/version
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' {CONTAINERD_CONFIG}
grep -q 'restrict_oom_score_adj = true' {CONTAINERD_CONFIG}
""")
    _write(engine, container, "/etc/cni/net.d/10-rc-kind.conflist", cni_config())
    spec = json.loads(_exec(engine, container, "ctr oci spec"))
    spec.setdefault("hooks", {}).setdefault("createContainer", []).append(
        {"path": "/kind/bin/mount-product-files.sh"})
    spec["process"].pop("rlimits", None)
    _write(engine, container, "/etc/containerd/cri-base.json", json.dumps(spec, indent=2))


def _write(engine: Engine, container: str, path: str, text: str) -> None:
    proc = subprocess.run(
        [DOCKER, "exec", "-i", container, "sh", "-c", f"cat > {path}"],
        input=text.encode(), env=engine.env(), capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise NodeImageError(f"writing {path}: {proc.stderr.decode().strip()}")


def _preload(engine: Engine, container: str,
             archives: Sequence[tuple[tuple[str, ...], Path]], log: Log) -> None:
    """containerd in the build container, each archive imported into `k8s.io`, pinned."""
    _exec(engine, container, "nohup containerd >/var/log/containerd-build.log 2>&1 &")
    _exec(engine, container, "for i in $(seq 1 50); do ctr version >/dev/null 2>&1 && exit 0; "
                             "sleep 0.2; done; ctr version")
    wanted = [image for names, _ in archives for image in names]
    for names, archive in archives:
        log(f"preloading {', '.join(names)}")
        engine.docker("cp", str(archive), f"{container}:/tmp/image.tar")
        _exec(engine, container, "ctr -n k8s.io images import --all-platforms "
                                 "--no-unpack /tmp/image.tar && rm /tmp/image.tar")
        for image in names:
            _exec(engine, container, f"ctr -n k8s.io images label {image} "
                                     "io.cri-containerd.pinned=pinned >/dev/null")
    listed = _exec(engine, container, "ctr -n k8s.io images list -q")
    absent = [image for image in wanted if image not in listed.split()]
    if absent:
        raise NodeImageError(f"not preloaded: {', '.join(absent)}")
    _exec(engine, container, "pkill containerd; for i in $(seq 1 50); do "
                             "pgrep -x containerd >/dev/null || exit 0; sleep 0.2; done")
