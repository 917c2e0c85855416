"""A local job's plan: what `execute` will do, decided from the spec without touching the disk, the network or a
process, so that `--dry-run` prints exactly what would run and tests can read it without running anything.

A plan names each host's argv, the variables it adds to the inherited environment (whose job variables, SM_* and
the like, are dropped first), its cwd and tree; the config files written into the trees; the inputs staged before
the hosts start and the outputs collected while or after they run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from smtoolkit.local.platform.runner import HostLaunch
from smtoolkit.logs import mask_text, masked

# Inherited variables that would contradict the job tree (a container starts without them).
SCRUBBED_PREFIXES = ("SM_", "SAGEMAKER_", "TRAINING_JOB_", "PROCESSING_JOB_")
SCRUBBED_NAMES = ("CURRENT_HOST",)


@dataclass(frozen=True)
class Transfer:
    """Files copied from `source` to `destination` (each a local path or s3:// URI): `how` says when and which."""

    source: str
    destination: str
    how: str

    def describe(self) -> dict[str, str]:
        return {"Source": self.source, "Destination": self.destination, "How": self.how}


@dataclass(frozen=True)
class LocalPlan:
    kind: str  # "TrainingJob" or "ProcessingJob"
    name: str
    work_dir: Path
    hosts: tuple[HostLaunch, ...]  # env: what each host adds to the inherited environment
    directories: tuple[Path, ...] = ()  # made before the hosts start (the work dir's own are made first)
    files: Mapping[Path, Any] = field(default_factory=dict)  # JSON files written before the hosts start
    inputs: tuple[Transfer, ...] = ()  # staged before the hosts start
    outputs: tuple[Transfer, ...] = ()  # collected while the hosts run or after they end
    runner: str = "processes"  # or "docker IMAGE"
    hostnames: str = "off"  # in-process hosts under their own names: auto|on|off (decided by a probe at execute)
    network: str | None = None  # the job's Docker network (`--image`)

    def describe(self) -> dict[str, Any]:
        return {
            "Job": f"{self.kind} {self.name}",
            "WorkDir": str(self.work_dir),
            "Runner": self.runner,
            "Hostnames": self.hostnames,
            "Hosts": [
                {"Host": host.host, "Argv": list(host.argv), "Env": dict(host.env), "Cwd": str(host.cwd)}
                | ({"StopArgv": list(host.stop_argv)} if host.stop_argv else {})
                for host in self.hosts
            ],
            "Directories": [str(path) for path in self.directories],
            "Files": {str(path): content for path, content in self.files.items()},
            "Inputs": [item.describe() for item in self.inputs],
            "Outputs": [item.describe() for item in self.outputs],
        }

    def text(self) -> str:
        """The plan as JSON, secret-looking values masked as in the logs."""
        return mask_text(json.dumps(masked(self.describe()), indent=2))


def launches(plan: LocalPlan, environ: Mapping[str, str]) -> list[HostLaunch]:
    """The plan's hosts, each with its whole environment: `environ` without job variables, then its additions."""
    inherited = inherited_environment(environ)
    return [replace(host, env={**inherited, **host.env}) for host in plan.hosts]


def inherited_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith(SCRUBBED_PREFIXES) and key not in SCRUBBED_NAMES
    }
