"""The local base image the container tests build the Dockerfiles on: Debian bookworm from the Debian mirror
(debootstrap minbase + python3, pip, venv, CA certificates), the host's CA bundle copied in so pip inside a build
reaches PyPI the way the host does, packed as a tarball and `docker import`-ed. There is no registry to pull
`python:3.11-slim` from on these machines.

The tarball is cached under the cache dir, keyed by suite and date: a dev machine builds it once a day, CI (fresh
each run) once per run, about 40-75 s.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
from pathlib import Path

from tests.containers.engine import DockerEngine, EngineError, run_quiet, unmount_below

logger = logging.getLogger(__name__)

BASE_TAG = "local/debian-py:bookworm"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_IMAGE = "/etc/ssl/certs/ca-certificates.crt"
# What debootstrap leaves that an image does not need: the downloaded .debs and the package lists (~95 MB).
PRUNED = ("var/cache/apt/archives", "var/lib/apt/lists")
IMPORT_CHANGES = (
    f"ENV PIP_CERT={CA_IN_IMAGE}",
    f"ENV SSL_CERT_FILE={CA_IN_IMAGE}",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
)


def debian_mirror(sources: Path = DEBIAN_SOURCES) -> str:
    """The first `URIs:` of the machine's deb822 sources (the mirror it is allowed to reach), else deb.debian.org."""
    try:
        text = sources.read_text()
    except OSError:
        return DEFAULT_MIRROR
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "URIs" and value.split():
            return value.split()[0]
    return DEFAULT_MIRROR


def rootfs_tarball(cache_dir: Path, today: datetime.date | None = None) -> Path:
    """The cached rootfs tarball of today, built with debootstrap when missing (older ones are removed)."""
    today = today or datetime.date.today()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tarball = cache_dir / f"debian-py-{SUITE}-{today:%Y%m%d}.tar"
    if tarball.is_file():
        logger.info("reusing base rootfs %s", tarball)
        return tarball
    if shutil.which("debootstrap") is None:
        raise EngineError("no `debootstrap` on PATH (Debian package debootstrap; ci/system-deps.sh installs it)")
    rootfs = cache_dir / f"rootfs-{os.getpid()}"
    try:
        run_quiet(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), debian_mirror()]
        )
        _prepare_rootfs(rootfs)
        partial = tarball.with_suffix(".partial")
        run_quiet(["tar", "-C", str(rootfs), "-cf", str(partial), "."])
        partial.replace(tarball)
    finally:
        unmount_below(rootfs)  # debootstrap mounts /proc and /sys inside the target; never delete through them
        shutil.rmtree(rootfs, ignore_errors=True)
    for old in cache_dir.glob(f"debian-py-{SUITE}-*.tar"):
        if old != tarball:
            old.unlink()
    return tarball


def _prepare_rootfs(rootfs: Path) -> None:
    for relative in PRUNED:
        directory = rootfs / relative
        for entry in directory.glob("*"):
            if entry.is_file():
                entry.unlink()
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / CA_IN_IMAGE.lstrip("/"))


def import_base_image(engine: DockerEngine, tarball: Path, tag: str = BASE_TAG) -> str:
    """`docker import` the tarball as `tag` (the CA bundle and PATH set as the recipe says); returns the tag."""
    changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
    engine.docker("import", *changes, str(tarball), tag, timeout=300)
    return tag


def default_cache_dir(repo_root: Path) -> Path:
    """SMTOOLKIT_CONTAINER_CACHE, else work/containers in the checkout (ignored by git)."""
    configured = os.environ.get("SMTOOLKIT_CONTAINER_CACHE")
    return Path(configured) if configured else repo_root / "work" / "containers"
