"""inputdataconfig.json: the job's input channels, and one way to read a channel whatever its input mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from smtoolkit.errors import did_you_mean

if TYPE_CHECKING:
    from typing import BinaryIO

InputMode = Literal["File", "Pipe", "FastFile"]
# Pipe mode without a RecordIO wrapper has no record boundaries: its bytes come in chunks of this size.
PIPE_CHUNK_BYTES = 1024 * 1024


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


class MissingChannel(KeyError):
    """A channel the job does not have; a KeyError, as a plain dict lookup would raise, that says which it has."""

    def __str__(self) -> str:
        return str(self.args[0])


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

    def open_epoch(self, epoch: int = 0, *, timeout: float | None = None) -> BinaryIO:
        """The channel's bytes for one epoch as a stream, whatever the input mode (close it when done).

        Pipe: the epoch's FIFO `<channel>_<epoch>`, waited for up to `timeout` s (None: forever), read to end
        of file or closed early. File and FastFile: every file of `files()` one after the other, the same
        bytes Pipe mode would send for an epoch (any epoch number).
        """
        from smtoolkit.formats import pipe

        if self.input_mode == "Pipe":
            return pipe.open_fifo(self.pipe_path(epoch), timeout)
        return pipe.concatenated(list(self.files()))

    def iter_records(self, epoch: int = 0, *, timeout: float | None = None) -> Iterator[bytes]:
        """The channel's records for one epoch.

        Pipe with RecordWrapperType RecordIO: each RecordIO record of the FIFO (one per source object).
        Pipe without a wrapper: the stream has no record boundaries, so its bytes come in chunks of up to 1 MiB.
        File and FastFile: each file's content, one record per file (the unit the RecordIO wrapper gives).
        """
        from smtoolkit.formats import pipe

        if self.input_mode != "Pipe":
            for path in self.files():
                yield path.read_bytes()
            return
        with self.open_epoch(epoch, timeout=timeout) as stream:
            if self.config.record_wrapper_type == "RecordIO":
                yield from pipe.read_recordio(stream)
                return
            while chunk := stream.read(PIPE_CHUNK_BYTES):
                yield chunk


class Channels(dict[str, Channel]):
    """The job's channels by name; a missing one raises MissingChannel naming the channels the job has."""

    def __missing__(self, name: str) -> Channel:
        have = ", ".join(sorted(self)) or "none"
        raise MissingChannel(
            f"the job has no channel {name!r}{did_you_mean(name, self)}; its channels: {have} "
            "(inputdataconfig.json, SM_CHANNEL_* variables)"
        )
