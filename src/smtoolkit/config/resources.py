"""resourceconfig.json: hosts, instance groups, and the master/rank rules derived from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import Self

HOMOGENEOUS_GROUP = "homogeneousCluster"

# Any of these hyperparameters being true puts the current instance group into the distribution.
DISTRIBUTION_FLAGS = (
    "sagemaker_mpi_enabled",
    "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_pytorch_ddp_enabled",
    "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
    "sagemaker_torch_distributed_enabled",
)


class InstanceGroup(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    instance_group_name: str
    instance_type: str = "local"
    hosts: list[str] = Field(default_factory=list)


class ResourceConfig(BaseModel):
    """The platform's resourceconfig.json (unknown keys are kept, so it re-exports verbatim)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    current_host: str
    hosts: list[str] = Field(min_length=1)
    current_instance_type: str = "local"
    current_group_name: str = HOMOGENEOUS_GROUP
    instance_groups: list[InstanceGroup] = Field(default_factory=list)
    network_interface_name: str = "eth0"
    topology: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _current_host_is_listed(self) -> Self:
        if self.current_host not in self.hosts:
            raise ValueError(f"current_host {self.current_host!r} is not one of hosts {self.hosts}")
        return self

    @classmethod
    def single_host(cls, host: str = "algo-1") -> ResourceConfig:
        """The resource config of a one-host job, used when no resourceconfig.json exists."""
        group = InstanceGroup(instance_group_name=HOMOGENEOUS_GROUP, hosts=[host])
        return cls(current_host=host, hosts=[host], instance_groups=[group])

    def verbatim(self) -> dict[str, Any]:
        """The file's content as it was given (no defaults filled in)."""
        return self.model_dump(exclude_unset=True)

    @property
    def group_names(self) -> list[str]:
        return [group.instance_group_name for group in self.instance_groups]

    @property
    def current_group_hosts(self) -> list[str]:
        for group in self.instance_groups:
            if group.instance_group_name == self.current_group_name:
                return list(group.hosts)
        return []

    @property
    def is_hetero(self) -> bool:
        return len(self.instance_groups) > 1


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def distribution_instance_groups(resources: ResourceConfig, framework_params: Mapping[str, Any]) -> list[str]:
    """Groups that take part in distributed training (sagemaker-training's rule)."""
    explicit = framework_params.get("sagemaker_distribution_instance_groups")
    if isinstance(explicit, list):
        return [str(name) for name in explicit]
    if any(_truthy(framework_params.get(flag)) for flag in DISTRIBUTION_FLAGS):
        return [resources.current_group_name]
    return []


def distribution_hosts(resources: ResourceConfig, groups: list[str]) -> list[str]:
    """Hosts of the distribution groups, in instance_groups order; all hosts when there are no groups."""
    if not resources.instance_groups:
        return list(resources.hosts)
    return [host for group in resources.instance_groups if group.instance_group_name in groups for host in group.hosts]


def master_hostname(resources: ResourceConfig, dist_hosts: list[str]) -> str:
    """The one master rule: first distribution host, else first host."""
    return dist_hosts[0] if dist_hosts else resources.hosts[0]


def ranked_hosts(resources: ResourceConfig, dist_hosts: list[str]) -> list[str]:
    """The host list ranks and counts refer to: the distribution hosts when this host is one of them.

    Rank 0 is always the master host, so SM_CURRENT_HOST_RANK, SM_MASTER_ADDR and torchrun's node_rank agree.
    """
    if resources.current_host in dist_hosts:
        return dist_hosts
    return list(resources.hosts)
