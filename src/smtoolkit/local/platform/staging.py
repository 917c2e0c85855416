"""Putting a channel's data where the job reads it, per input mode, on each host.

- File: every object of the host's share copied (local) or downloaded (s3://) to `input/data/<channel>/<key>`
  before `train` starts.
- FastFile: the same files, made read-only (mode 0444, directories 0555; root ignores mode bits). The platform
  streams them from S3 on demand; here they are downloaded first.
- Pipe: FIFOs `input/data/<channel>_<epoch>` fed by a writer thread for as many epochs as the job opens. Each
  epoch is the share's objects in key order (shuffled per epoch with `Random(seed + epoch)` when ShuffleConfig
  is set), each decompressed when CompressionType is Gzip, and each wrapped in one RecordIO record when
  RecordWrapperType is RecordIO. s3:// objects are downloaded once to the work dir's cache and replayed.

ShardedByS3Key (an approximation: the platform's exact assignment is undocumented): the objects sorted by key are
dealt round-robin, object i to host i mod N, so each host gets about 1/N of them; a host can get none when there
are fewer objects than hosts. FullyReplicated: every host gets every object.
"""

from __future__ import annotations

import gzip
import logging
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

from smtoolkit.formats.pipe import EpochSource, PipeWriter
from smtoolkit.formats.recordio import frame
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.storage import StoredObject, is_s3_uri

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


def host_share(objects: Sequence[StoredObject], distribution: str, index: int, count: int) -> list[StoredObject]:
    """The objects host number `index` (0-based) of `count` receives."""
    if distribution == "ShardedByS3Key":
        return list(objects[index::count])
    return list(objects)


def stage_files(store: ObjectStore, objects: Sequence[StoredObject], target: Path, read_only: bool = False) -> None:
    """File and FastFile mode: the objects under `target`, keyed by their relative key."""
    target.mkdir(parents=True, exist_ok=True)
    for item in objects:
        store.fetch(item, target / item.key)
    if read_only:
        make_read_only(target)
    log.info("staged %d objects in %s%s", len(objects), target, " (read-only)" if read_only else "")


def make_read_only(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)


class PipeFeed:
    """The bytes of each epoch of one Pipe-mode channel, from local copies of its objects."""

    def __init__(
        self, files: Sequence[Path], *, gzip_compressed: bool, recordio: bool, shuffle_seed: int | None
    ) -> None:
        self._files = list(files)
        self._gzip = gzip_compressed
        self._recordio = recordio
        self._seed = shuffle_seed

    def files_for(self, epoch: int) -> list[Path]:
        files = list(self._files)
        if self._seed is not None:
            random.Random(self._seed + epoch).shuffle(files)
        return files

    def __call__(self, epoch: int) -> Iterator[bytes]:
        for path in self.files_for(epoch):
            opener = gzip.open if self._gzip else open
            with opener(path, "rb") as stream:
                if self._recordio:
                    yield frame(stream.read())
                    continue
                while chunk := stream.read(_CHUNK):
                    yield chunk


def local_copies(store: ObjectStore, objects: Sequence[StoredObject], cache: Path) -> list[Path]:
    """Local paths of the objects: local ones as they are, s3:// ones downloaded to `cache` once."""
    paths = []
    for item in objects:
        if is_s3_uri(item.uri):
            target = cache / item.key
            if not target.exists():
                store.fetch(item, target)
            paths.append(target)
        else:
            paths.append(Path(item.uri))
    return paths


def start_pipe(channel_dir: Path, feed: EpochSource, epochs: int | None = None) -> PipeWriter:
    """A running writer for the channel's FIFOs `<channel>_0`, `<channel>_1`, ..."""
    channel_dir.parent.mkdir(parents=True, exist_ok=True)
    writer = PipeWriter(channel_dir, feed, epochs)
    writer.start()
    return writer
