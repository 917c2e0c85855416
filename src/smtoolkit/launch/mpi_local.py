"""MPI hosts that all run on this machine (local jobs, SMTOOLKIT_MPI_LOCAL_DIR): no ssh, no sshd.

mpirun's rsh agent is a small shell script the master writes into its rank dir: `mpi-agent HOST COMMAND...`
runs COMMAND (that host's orted) here, as `ssh HOST COMMAND` would run it there, with SMTOOLKIT_HOST_ENV
naming `<local dir>/<HOST>.json`, the host's job variables and code dir, which `rank_main` applies. Each host's
launcher writes its own file before it reports ready, so the master waits for the files instead of sshd ports.
When the master runs as algo-1 (smtoolkit.local.platform.hostnames), mpirun starts algo-1's ranks itself, as on the
platform; every algo-N then resolves to this machine, so mpirun is told not to resolve names
(if_base_do_not_resolve), or it would start every host's ranks itself. orted stays attached
(orte_leave_session_attached): it runs in the master engine's session, so stopping the engine reaches it, and it
dies with mpirun rather than outliving it as a daemon.

OpenMPI names its session directory (the daemon's hwloc topology file, PMIx sockets) and its shared-memory
(vader) segments after the machine and the job, so two hosts' daemons, or local rank 0 of algo-1 and of algo-2,
would map the same files here and crash. Each host gets its own scratch directory for both (under /dev/shm when
it is writable: short paths for the sockets, memory for the segments), which the master removes at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path

from smtoolkit.errors import ConfigError

AGENT_NAME = "mpi-agent"
SHARED_MEMORY = Path("/dev/shm")
# The rsh agent setting is split on whitespace by mpirun, so the agent's own path must have none.
SPLIT_BY_MPIRUN = (" ", "\t", "\n")

_AGENT = """#!/bin/sh
# mpirun's rsh agent for MPI hosts on this machine (written by smtoolkit): `{name} HOST COMMAND...`
host=$1
shift
SMTOOLKIT_HOST_ENV={directory}/"$host".json
if [ ! -f "$SMTOOLKIT_HOST_ENV" ]; then
    echo "smtoolkit: MPI host $host has no variables at $SMTOOLKIT_HOST_ENV (its launcher has not started)" >&2
    exit 255
fi
export SMTOOLKIT_HOST_ENV
OMPI_MCA_orte_tmpdir_base={scratch}/"$host"
OMPI_MCA_btl_vader_backing_directory={scratch}/"$host"/vader
mkdir -p "$OMPI_MCA_btl_vader_backing_directory" || exit 255
export OMPI_MCA_orte_tmpdir_base OMPI_MCA_btl_vader_backing_directory
exec /bin/sh -c "$*"
"""


def agent_path(rank_dir: str) -> str:
    """Where the master's agent lives; a ConfigError when mpirun could not run it from there."""
    path = str(Path(rank_dir) / AGENT_NAME)
    if any(char in path for char in SPLIT_BY_MPIRUN):
        raise ConfigError.single(
            "settings", f"mpirun cannot run an agent at {path!r} (whitespace); point TMPDIR at a path without any"
        )
    return path


def host_env_file(local_dir: str, host: str) -> Path:
    return Path(local_dir) / f"{host}.json"


def scratch_dir(local_dir: str) -> Path:
    """The parent of every host's OpenMPI scratch directory for the job whose hosts share `local_dir`."""
    name = f"smtoolkit-mpi-{hashlib.sha1(local_dir.encode()).hexdigest()[:12]}"
    if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
        return SHARED_MEMORY / name
    return Path(tempfile.gettempdir()) / name


def write_agent(rank_dir: str, local_dir: str) -> None:
    path = Path(agent_path(rank_dir))
    scratch = shlex.quote(str(scratch_dir(local_dir)))
    script = _AGENT.format(name=AGENT_NAME, directory=shlex.quote(local_dir), scratch=scratch)
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)


def write_host_env(path: Path, env: Mapping[str, str], cwd: Path) -> None:
    """A host's job variables and code dir for its ranks (rank_main), written atomically: the agent or a rank
    never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps({"env": dict(env), "cwd": str(cwd)}), encoding="utf-8")
    os.replace(partial, path)
