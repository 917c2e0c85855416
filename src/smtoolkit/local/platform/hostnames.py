"""Host names and /opt/ml for a local job's in-process hosts: each host's hostname is its name, algo-N resolve,
and /opt/ml is the host's tree (Linux).

On the platform every host is a machine called algo-N whose /etc/hosts names the others, and user code relies
on it (`socket.gethostname()`, connecting to `algo-1`). Here each host's process starts in its own mount and UTS
namespaces (`unshare`, with a user namespace when not root): a job hosts file (this machine's /etc/hosts plus
`127.0.0.1 algo-1 algo-2 ...`) is bind-mounted over /etc/hosts and the hostname set, then the host's command
is exec'd, so its pid, signals and output are what they were.

In the same namespace the host's tree is bound over /opt/ml, so that code which hard-codes /opt/ml/... (most
processing scripts, many training scripts) reads and writes the host's tree: a tmpfs-backed overlay on /opt
(the machine's /opt below it, unchanged) gets an `ml` dir, and the tree is bound there. Nothing is created on
the machine's /opt. Where that cannot be done (no /opt, no overlay support), the hosts still get their names and
/opt/ml is left alone: code must use SM_* variables or the paths it is given (processing arguments under /opt/ml/
are rewritten to the tree either way). Where that is not possible (no unshare, mount or
hostname tool; a kernel or container policy that forbids the namespaces; not Linux), `auto` runs the hosts as
they are and logs why; the launcher still reaches the hosts through SMTOOLKIT_HOST_ADDRESSES.

MPI ranks are started by the master's mpirun (smtoolkit.launch.mpi_local), so every rank shares algo-1's
namespaces: its hostname is algo-1, while its SM_CURRENT_HOST is its own host's.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smtoolkit.errors import ConfigError
from smtoolkit.local.platform.tree import LOOPBACK

log = logging.getLogger(__name__)

HostnameMode = Literal["auto", "on", "off"]
HOSTS_FILE = ".hosts"
SYSTEM_HOSTS = Path("/etc/hosts")
TOOLS = ("unshare", "mount", "hostname", "sh")
# Run by sh in the new namespaces: $1 the job's hosts file, $2 the hostname, then the host's own argv.
_SETUP = 'mount --bind "$1" /etc/hosts && hostname "$2" && shift 2 && exec "$@"'
# The same, then $3 a scratch dir (a tmpfs there holds the overlay's upper layer), $4 the tree to bind to /opt/ml.
_SETUP_OPT_ML = (
    'mount --bind "$1" /etc/hosts && hostname "$2" && mount -t tmpfs tmpfs "$3" && mkdir "$3/upper" "$3/work" && '
    'mount -t overlay overlay -o lowerdir=/opt,upperdir="$3/upper",workdir="$3/work" /opt && mkdir -p /opt/ml && '
    'mount --bind "$4" /opt/ml && shift 4 && exec "$@"'
)
OPT_SCRATCH = ".opt"  # <work dir>/.opt/<host>: each host's overlay scratch (a mount point, empty outside)
PLATFORM_ROOT = Path("/opt/ml")
_NAMESPACES = ("--mount", "--uts", "--propagation", "private")
_AS_ROOT = ("unshare", *_NAMESPACES)
_AS_USER = ("unshare", "--user", "--map-root-user", *_NAMESPACES)
PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class HostNaming:
    hosts_file: Path
    unshare: tuple[str, ...]  # unshare and its namespace options
    opt_scratch: Path | None = None  # set when each host's tree can be bound over /opt/ml

    def wrap(self, host: str, argv: Sequence[str], tree: Path | None = None) -> tuple[str, ...]:
        """`argv`, run as host `host`, with `tree` as /opt/ml where that can be done."""
        if tree is None or self.opt_scratch is None:
            return (*self.unshare, "sh", "-c", _SETUP, "sh", str(self.hosts_file), host, *argv)
        scratch = self.opt_scratch / host
        scratch.mkdir(parents=True, exist_ok=True)
        return (
            *self.unshare,
            "sh",
            "-c",
            _SETUP_OPT_ML,
            "sh",
            str(self.hosts_file),
            host,
            str(scratch),
            str(tree),
            *argv,
        )


def as_host(naming: HostNaming | None, host: str, argv: Sequence[str], tree: Path | None = None) -> tuple[str, ...]:
    """`argv`, under `host`'s name (and `tree` as /opt/ml) when hosts get their own namespaces."""
    return naming.wrap(host, argv, tree) if naming is not None else tuple(argv)


def hosts_text(hosts: Sequence[str], system: str) -> str:
    """This machine's hosts file, then every job host on loopback (after it: localhost stays 127.0.0.1's name)."""
    return system.rstrip("\n") + f"\n# smtoolkit local job hosts\n{LOOPBACK} {' '.join(hosts)}\n"


def host_naming(work_dir: Path, hosts: Sequence[str], mode: HostnameMode) -> HostNaming | None:
    """How to start each host under its own name, or None (`off`, or `auto` where it cannot be done here).

    `on` where it cannot be done is a ConfigError naming why. One short probe run decides.
    """
    if mode == "off":
        return None
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    problem = f"not found on PATH: {', '.join(missing)}" if missing else ""
    if not missing:
        hosts_file = work_dir / HOSTS_FILE
        hosts_file.write_text(hosts_text(hosts, _system_hosts()), encoding="utf-8")
        for unshare in (_AS_ROOT, _AS_USER) if os.geteuid() == 0 else (_AS_USER,):
            naming = HostNaming(hosts_file, unshare)
            problem = _probe(naming, hosts[0])
            if not problem:
                log.info("hosts run under their own names (%s; algo-N resolve to %s)", " ".join(unshare), LOOPBACK)
                return _with_opt_ml(naming, work_dir, hosts[0])
    if mode == "on":
        raise ConfigError.single("--hostnames", f"cannot give each host its own name here: {problem}")
    log.info(
        "hosts keep this machine's hostname and their names do not resolve in user code (%s); use --hostnames "
        "off to skip this check",
        problem,
    )
    return None


def _with_opt_ml(naming: HostNaming, work_dir: Path, host: str) -> HostNaming:
    """`naming` binding each host's tree over /opt/ml, when a probe shows it works here; else `naming`."""
    candidate = HostNaming(naming.hosts_file, naming.unshare, work_dir / OPT_SCRATCH)
    problem = _probe(candidate, host, work_dir)
    if problem:
        log.info(
            "/opt/ml is not each host's tree here (%s): code must use the SM_* variables or its arguments", problem
        )
        return naming
    log.info("each host sees its tree %s/<host> as /opt/ml", work_dir)
    return candidate


def _system_hosts() -> str:
    try:
        return SYSTEM_HOSTS.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"{LOOPBACK} localhost\n"


def _probe(naming: HostNaming, host: str, tree: Path | None = None) -> str:
    """'' when `naming` works here, else what went wrong."""
    try:
        result = subprocess.run(
            naming.wrap(host, ["true"], tree), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode == 0:
        return ""
    return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit code {result.returncode}"
