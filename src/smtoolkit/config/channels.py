"""inputdataconfig.json: the job's input channels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InputMode = Literal["File", "Pipe", "FastFile"]


class ChannelConfig(BaseModel):
    """One entry of inputdataconfig.json, as the platform writes it (unknown keys are kept)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)

    content_type: str | None = Field(default=None, alias="ContentType")
    input_mode: InputMode = Field(default="File", alias="TrainingInputMode")
    s3_distribution_type: Literal["FullyReplicated", "ShardedByS3Key"] = Field(
        default="FullyReplicated", alias="S3DistributionType"
    )
    record_wrapper_type: Literal["None", "RecordIO"] = Field(default="None", alias="RecordWrapperType")
    compression_type: Literal["None", "Gzip"] = Field(default="None", alias="CompressionType")


class Channel(BaseModel):
    """A channel as user code sees it: its name, its local path and its configuration."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    config: ChannelConfig = ChannelConfig()

    @property
    def input_mode(self) -> InputMode:
        return self.config.input_mode

    @property
    def content_type(self) -> str | None:
        return self.config.content_type

    def pipe_path(self, epoch: int = 0) -> Path:
        """Pipe mode's FIFO for one epoch: <channel dir>_<epoch>."""
        return self.path.with_name(f"{self.path.name}_{epoch}")

    def files(self) -> Iterator[Path]:
        """Every regular file of a File/FastFile channel, recursively, in a stable order."""
        if self.path.is_dir():
            yield from sorted(p for p in self.path.rglob("*") if p.is_file())
