"""The container check's own helpers, on inputs made here (no engine needed)."""

from __future__ import annotations

import datetime
from pathlib import Path

from tests.containers.base_image import DEFAULT_MIRROR, debian_mirror, rootfs_tarball
from tests.containers.engine import dockerd_argv, mounts_below


def test_mirror_is_the_first_uris_line_of_the_deb822_sources(tmp_path: Path) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text("Types: deb\n# comment: x\nURIs: http://mirror.example/debian http://other\nSuites: bookworm\n")
    assert debian_mirror(sources) == "http://mirror.example/debian"


def test_mirror_falls_back_to_deb_debian_org(tmp_path: Path) -> None:
    assert debian_mirror(tmp_path / "missing.sources") == DEFAULT_MIRROR
    (tmp_path / "empty.sources").write_text("Types: deb\nURIs:\n")
    assert debian_mirror(tmp_path / "empty.sources") == DEFAULT_MIRROR


def test_cached_rootfs_of_the_day_is_reused_without_debootstrap(tmp_path: Path) -> None:
    cached = tmp_path / "debian-py-bookworm-20260102.tar"
    cached.write_bytes(b"tar")
    assert rootfs_tarball(tmp_path, datetime.date(2026, 1, 2)) == cached


def test_mounts_below_are_listed_deepest_first_with_escapes_decoded(tmp_path: Path) -> None:
    root = tmp_path / "docker"
    mountinfo = tmp_path / "mountinfo"
    lines = [
        "1 0 8:1 / / rw - ext4 /dev/vda rw",
        f"2 1 0:5 / {root}/exec/netns rw - nsfs nsfs rw",
        f"3 1 0:6 / {root}/data/overlay2/a\\040b/merged rw - overlay overlay rw",
        f"4 1 0:7 / {root}x/other rw - tmpfs tmpfs rw",
        f"5 1 0:8 / {root} rw - tmpfs tmpfs rw",
    ]
    mountinfo.write_text("\n".join(lines) + "\n")
    assert mounts_below(root, mountinfo) == [root / "data/overlay2/a b/merged", root / "exec/netns", root]


def test_dockerd_keeps_all_its_state_under_its_root(tmp_path: Path) -> None:
    argv = dockerd_argv(tmp_path)
    assert "--bridge=none" in argv and "--iptables=false" in argv
    paths = [
        arg.split("=", 1)[1].removeprefix("unix://")
        for arg in argv
        if arg.startswith(("--data", "--exec", "-H", "--pid"))
    ]
    assert len(paths) == 4 and all(path.startswith(str(tmp_path)) for path in paths)
