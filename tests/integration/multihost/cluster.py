"""Two (or more) "hosts" on one machine: network namespaces joined by a bridge, each with its own /etc/hosts
(`ip netns exec` binds /etc/netns/NAME/hosts), its own hostname (a UTS namespace) and its own job tree.

Names carry a random suffix so parallel runs don't clash; `Cluster.close()` removes everything it made,
whatever happened. Needs root (CI runs as root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NETNS_ETC = Path("/etc/netns")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    name: str  # algo-N
    netns: str
    address: str
    base: Path  # the job tree (SAGEMAKER_BASE_DIR)

    def command(self, argv: list[str]) -> list[str]:
        """argv run inside this host's network namespace, with its own hostname."""
        inner = 'hostname "$0" && exec "$@"'
        return ["ip", "netns", "exec", self.netns, "unshare", "--uts", "sh", "-c", inner, f"node-{self.netns}", *argv]


@dataclass
class Cluster:
    root: Path
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    hosts: list[Host] = field(default_factory=list)
    bridge: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, count: int = 2) -> Cluster:
        self.bridge = f"smb{self.suffix}"
        subnet = f"10.{int(self.suffix[:2], 16)}.{int(self.suffix[2:4], 16)}"
        # The bridge lives in a namespace of its own, so nothing touches the machine's network.
        hub = f"smtk-{self.suffix}-hub"
        _ip("netns", "add", hub)
        _ip("-n", hub, "link", "add", self.bridge, "type", "bridge")
        _ip("-n", hub, "link", "set", self.bridge, "up")
        self._hub = hub
        names = [f"algo-{index}" for index in range(1, count + 1)]
        lines = "127.0.0.1 localhost\n" + "".join(f"{subnet}.{i} {n}\n" for i, n in enumerate(names, 1))
        for index, name in enumerate(names, 1):
            netns = f"smtk-{self.suffix}-{index}"
            _ip("netns", "add", netns)
            _ip("-n", netns, "link", "set", "lo", "up")
            outer, inner = f"sv{self.suffix}{index}", f"sw{self.suffix}{index}"
            _ip("link", "add", outer, "netns", hub, "type", "veth", "peer", "name", inner, "netns", netns)
            _ip("-n", hub, "link", "set", outer, "master", self.bridge, "up")
            _ip("-n", netns, "link", "set", inner, "name", "eth0")
            _ip("-n", netns, "addr", "add", f"{subnet}.{index}/24", "dev", "eth0")
            _ip("-n", netns, "link", "set", "eth0", "up")
            (NETNS_ETC / netns).mkdir(parents=True, exist_ok=True)
            (NETNS_ETC / netns / "hosts").write_text(lines)
            self.hosts.append(Host(name, netns, f"{subnet}.{index}", self.root / name / "opt" / "ml"))
        return self

    def write_jobs(self, hyperparameters: Mapping[str, Any], code: Mapping[str, str]) -> None:
        names = [host.name for host in self.hosts]
        for host in self.hosts:
            config = host.base / "input" / "config"
            config.mkdir(parents=True, exist_ok=True)
            (host.base / "output").mkdir(exist_ok=True)
            (host.base / "model").mkdir(exist_ok=True)
            resources = {
                "current_host": host.name,
                "hosts": names,
                "current_group_name": "homogeneousCluster",
                "instance_groups": [
                    {"instance_group_name": "homogeneousCluster", "instance_type": "ml.c5.xlarge", "hosts": names}
                ],
                "network_interface_name": "eth0",
            }
            hps = {
                key: value if isinstance(value, str) else json.dumps(value) for key, value in hyperparameters.items()
            }
            (config / "hyperparameters.json").write_text(json.dumps(hps))
            (config / "resourceconfig.json").write_text(json.dumps(resources))
            (config / "inputdataconfig.json").write_text("{}")
            for name, text in code.items():
                target = host.base / "code" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)

    def train(self, host: Host, environ: Mapping[str, str]) -> subprocess.Popen[bytes]:
        env = {**os.environ, **environ, "SAGEMAKER_BASE_DIR": str(host.base)}
        log = (self.root / f"{host.name}.log").open("wb")
        argv = host.command([sys.executable, "-m", "smtoolkit", "train"])
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def log(self, host: Host) -> str:
        return (self.root / f"{host.name}.log").read_text(errors="replace")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGKILL)
            process.wait()
        for netns in [host.netns for host in self.hosts] + [getattr(self, "_hub", "")]:
            if not netns:
                continue
            _kill_namespace_processes(netns)
            subprocess.run(["ip", "netns", "del", netns], capture_output=True)
            shutil.rmtree(NETNS_ETC / netns, ignore_errors=True)


def _kill_namespace_processes(netns: str) -> None:
    """Whatever a test left running in its namespace (a hung rank, an sshd)."""
    listed = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


@dataclass(frozen=True)
class SshKeys:
    """A host key and a client key pair for the workers' sshd, with the settings that point at them."""

    environ: dict[str, str]


def make_ssh_keys(directory: Path) -> SshKeys:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / name)], check=True)
    shutil.copy(directory / "id.pub", directory / "authorized_keys")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory
    sshd = (
        f"/usr/sbin/sshd -D -e -h {directory / 'host_key'} -o AuthorizedKeysFile={directory / 'authorized_keys'}"
        " -o StrictModes=no -o UsePAM=no -o PidFile=none"
    )
    ssh = (
        f"-i {directory / 'id'} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        " -o LogLevel=ERROR"
    )
    return SshKeys({"SMTOOLKIT_SSHD_COMMAND": sshd, "SMTOOLKIT_SSH_OPTIONS": ssh, "SMTOOLKIT_SSH_PORT": "2222"})
