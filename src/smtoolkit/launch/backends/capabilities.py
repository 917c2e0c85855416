"""Instance-type capabilities as data: which types have EFA, and EFA with GPU-direct RDMA.

The tables are defaults; `SMTOOLKIT_EFA_INSTANCES` / `SMTOOLKIT_EFA_RDMA_INSTANCES` (comma-separated, `+` in
front to add to the defaults instead of replacing them) cover instance types newer than this release.
"""

from __future__ import annotations

from smtoolkit.config.engine import EngineSettings

EFA_RDMA_INSTANCES = frozenset(
    {
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.p5.48xlarge",
        "ml.p5e.48xlarge",
        "ml.p5en.48xlarge",
        "ml.trn1.32xlarge",
        "ml.trn1n.32xlarge",
        "ml.trn2.48xlarge",
        "ml.p6-b200.48xlarge",
        "ml.p6e-gb200.36xlarge",
    }
)
# Every RDMA type has EFA; these have EFA without GPU-direct RDMA.
EFA_INSTANCES = EFA_RDMA_INSTANCES | {"ml.g4dn.8xlarge", "ml.g4dn.12xlarge", "ml.g5.48xlarge", "ml.p3dn.24xlarge"}


def _table(default: frozenset[str], override: str | None) -> frozenset[str]:
    if override is None:
        return default
    text = override.strip()
    names = {name.strip() for name in text.lstrip("+").split(",") if name.strip()}
    return default | names if text.startswith("+") else frozenset(names)


def engine_network_env(instance_type: str, interface: str, settings: EngineSettings) -> dict[str, str]:
    """The network variables every engine gets: the interface for NCCL/gloo, EFA settings for EFA types."""
    env = {"NCCL_SOCKET_IFNAME": interface, "GLOO_SOCKET_IFNAME": interface}
    if instance_type in _table(EFA_INSTANCES, settings.efa_instances):
        env.update({"FI_PROVIDER": "efa", "NCCL_PROTO": "simple"})
    if instance_type in _table(EFA_RDMA_INSTANCES, settings.efa_rdma_instances):
        env.update({"FI_EFA_USE_DEVICE_RDMA": "1", "RDMAV_FORK_SAFE": "1"})
    return env
