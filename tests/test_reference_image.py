"""The reference image's parts that need no root: the mirror, the layers, the config."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from receiver_conformance.node import reference_image
from receiver_conformance.node.images import oci_archive


def test_the_mirror_is_read_from_the_hosts_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    assert reference_image.debian_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "deb [signed-by=/k.gpg] http://old.example/debian bookworm main\n")
    assert reference_image.debian_mirror(tmp_path) == "http://old.example/debian"
    (tmp_path / "sources.list").unlink()
    with pytest.raises(reference_image.ReferenceImageError, match="no Debian archive"):
        reference_image.debian_mirror(tmp_path)


def test_the_image_has_a_layer_per_folder_and_runs_the_reference_as_65532(
        tmp_path: Path) -> None:
    base, app = tmp_path / "base", tmp_path / "app"
    (base / "usr" / "bin").mkdir(parents=True)
    (base / "usr" / "bin" / "python3").write_text("")
    (app / "opt" / "receiver" / "reference").mkdir(parents=True)
    image = reference_image.image("t1")
    archive = oci_archive([base, app], (image,), tmp_path / "image.tar")
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        [entry] = index["manifests"]
        assert entry["annotations"]["io.containerd.image.name"] == "rc.local/reference:t1"
        blob = entry["digest"].split(":")[1]
        manifest = json.load(tar.extractfile(f"blobs/sha256/{blob}"))
        config = json.load(tar.extractfile(
            f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"))
    assert len(manifest["layers"]) == len(config["rootfs"]["diff_ids"]) == 2
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/usr/bin/python3", "-m", "receiver_conformance.reference"]
    assert "PYTHONPATH=/opt/receiver" in config["config"]["Env"]
