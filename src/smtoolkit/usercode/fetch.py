"""Get the user's code into the code directory: from a local directory, file or tarball, or from an s3://
tarball streamed straight into a safe extractor (no temporary copy, no full read into memory)."""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import shutil
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from smtoolkit import storage
from smtoolkit.errors import CodeFetchError

logger = logging.getLogger(__name__)

FetchKind = Literal["none", "directory", "tarball", "file", "s3"]
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FetchResult:
    """What fetch_code did. `files_written` counts non-directory entries (files and links)."""

    kind: FetchKind
    uri: str | None
    code_dir: Path
    files_written: int
    code_dir_had_files: bool


def fetch_code(uri: str | None, code_dir: Path, environ: Mapping[str, str] | None = None) -> FetchResult:
    """Put the code at `uri` into `code_dir`. Submitted code wins over what the directory already holds."""
    if not uri:
        return FetchResult("none", None, code_dir, 0, _count_entries(code_dir) > 0)
    existing = _prepare_code_dir(code_dir)
    kind: FetchKind
    if storage.is_s3_uri(uri):
        with storage.open_s3_object(uri, environ) as body:
            _warn_if_not_empty(code_dir, existing, uri)
            kind, written = "s3", safe_extract(body, code_dir, source=uri)
    else:
        kind, written = _fetch_local(uri, code_dir, existing)
    logger.info("Fetched code from %s (%s) into %s: %d files written", uri, kind, code_dir, written)
    return FetchResult(kind, uri, code_dir, written, existing > 0)


def _count_entries(directory: Path) -> int:
    try:
        with os.scandir(directory) as entries:
            return sum(1 for _ in entries)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise CodeFetchError(f"cannot read code directory {directory}: {exc.strerror or exc}") from exc


def _prepare_code_dir(code_dir: Path) -> int:
    try:
        code_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CodeFetchError(f"cannot create code directory {code_dir}: {exc.strerror or exc}") from exc
    return _count_entries(code_dir)


def _warn_if_not_empty(code_dir: Path, existing: int, uri: str) -> None:
    if existing:
        logger.warning(
            "Code directory %s already holds %d entries; the code from %s is put on top of them "
            "(entries with the same names are replaced)",
            code_dir,
            existing,
            uri,
        )


def _fetch_local(uri: str, code_dir: Path, existing: int) -> tuple[FetchKind, int]:
    if "://" in uri and not uri.lower().startswith(storage.FILE_SCHEME):
        raise CodeFetchError(f"{uri}: unsupported URI scheme; expected s3://, file:// or a local path")
    source = storage.local_path(uri)
    try:
        if source.is_dir():
            if source.resolve() == code_dir.resolve():
                return "directory", 0
            _warn_if_not_empty(code_dir, existing, uri)
            return "directory", _copy_tree(source, code_dir)
        if not source.is_file():
            problem = "not a regular file or directory" if source.exists() else "no such file or directory"
            raise CodeFetchError(f"{uri}: {problem}")
        if tarfile.is_tarfile(source):
            _warn_if_not_empty(code_dir, existing, uri)
            with source.open("rb") as archive:
                return "tarball", safe_extract(archive, code_dir, source=uri)
        _warn_if_not_empty(code_dir, existing, uri)
        return "file", _copy_file(source, code_dir)
    except OSError as exc:
        raise CodeFetchError(f"cannot copy code from {uri} into {code_dir}: {exc}") from exc


def _copy_tree(source: Path, code_dir: Path) -> int:
    skip = code_dir.resolve()
    copied = 0
    for directory, dirnames, filenames in os.walk(source):
        target_dir = code_dir / Path(directory).relative_to(source)
        target_dir.mkdir(exist_ok=True)
        for name in list(dirnames):
            path = Path(directory, name)
            if path.is_symlink() or path.resolve() == skip:
                # A linked directory is copied as the link; the code dir is never copied into itself.
                dirnames.remove(name)
                if path.is_symlink():
                    copied += _copy_entry(path, target_dir / name)
        copied += sum(_copy_entry(Path(directory, name), target_dir / name) for name in filenames)
    return copied


def _copy_file(source: Path, code_dir: Path) -> int:
    target = code_dir / source.name
    return 0 if target.exists() and target.samefile(source) else _copy_entry(source, target)


def _copy_entry(source: Path, target: Path) -> int:
    """Copy a file or symlink (as a link) to `target`, replacing a file or link there, never writing through."""
    if not (source.is_symlink() or source.is_file()):
        raise CodeFetchError(f"{source}: not a regular file, directory or symlink")
    if target.is_symlink() or target.is_file():
        target.unlink()
    if source.is_symlink():
        target.symlink_to(os.readlink(source))
    else:
        shutil.copy2(source, target)
    return 1


def safe_extract(fileobj: BinaryIO, dest: Path, *, source: str | None = None) -> int:
    """Extract a tar stream (plain or compressed, read once front to back) into `dest`; return the number of
    files and links written. Refuses, with CodeFetchError naming the member: absolute names, names or link
    targets that escape `dest`, devices and FIFOs. Keeps file modes but drops setuid/setgid/sticky and
    group/other write bits; never changes ownership."""
    label = source or str(getattr(fileobj, "name", "archive"))
    written = 0
    try:
        dest.mkdir(parents=True, exist_ok=True)
        root = os.path.realpath(dest)
        with tarfile.open(fileobj=fileobj, mode="r|*") as archive:
            for member in archive:
                written += _extract_member(archive, member, root, label)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise CodeFetchError(f"{label}: not a valid or complete tar archive ({exc})") from exc
    except OSError as exc:  # reading the source or creating dest; member writes are reported by name
        raise CodeFetchError(f"{label}: extraction into {dest} failed: {exc}") from exc
    return written


def _refuse(label: str, member: tarfile.TarInfo, reason: str) -> CodeFetchError:
    return CodeFetchError(f"{label}: refused archive member {member.name!r}: {reason}")


def _relative_name(name: str) -> str | None:
    """The member name as a normalised path relative to the destination, or None if it is absolute or
    escapes it. "" stands for the destination itself."""
    if not name or "\0" in name or name.startswith(("/", os.sep)):
        return None
    normalised = posixpath.normpath(name)
    if normalised == ".." or normalised.startswith("../"):
        return None
    return "" if normalised == "." else normalised


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def _target_path(member: tarfile.TarInfo, root: str, label: str) -> str:
    """Refuse member types and names that must not be extracted; return the member's target path."""
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        kind = "device" if member.ischr() or member.isblk() else "FIFO" if member.isfifo() else "special"
        raise _refuse(label, member, f"{kind} members are not allowed")
    relative = _relative_name(member.name)
    if relative is None:
        reason = "absolute path" if member.name.startswith("/") else "'..' leads outside the destination"
        raise _refuse(label, member, reason)
    if relative == "" and not member.isdir():
        raise _refuse(label, member, "names the destination itself")
    target = os.path.join(root, relative)
    # A file or link at the target is replaced, not followed, so only its directory must resolve inside.
    if not _inside(root, target if member.isdir() else os.path.dirname(target)):
        raise _refuse(label, member, "path resolves outside the destination")
    return target


def _check_links(member: tarfile.TarInfo, root: str, target: str, label: str) -> None:
    if member.issym():
        if not member.linkname or os.path.isabs(member.linkname):
            raise _refuse(label, member, f"symlink to an absolute path {member.linkname!r}")
        if not _inside(root, os.path.join(os.path.dirname(target), member.linkname)):
            raise _refuse(label, member, f"symlink target {member.linkname!r} is outside the destination")
    if member.islnk():
        linked = _relative_name(member.linkname)
        if linked is None or not _inside(root, os.path.join(root, linked)):
            raise _refuse(label, member, f"hard link target {member.linkname!r} is outside the destination")


def _stdlib_filter(member: tarfile.TarInfo, root: str, label: str) -> None:
    """The standard library's own checks (Python 3.11.4+, 3.12+), a second opinion on top of ours."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is not None:
        try:
            data_filter(member, root)
        except tarfile.TarError as exc:
            raise _refuse(label, member, str(exc)) from exc


def _extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo, root: str, label: str) -> int:
    target = _target_path(member, root, label)
    _check_links(member, root, target, label)
    try:
        if not member.isdir():
            _clear_way(target)  # replaced, so that neither we nor data_filter follow what was there
        _stdlib_filter(member, root, label)
        if member.isdir():
            os.makedirs(target, exist_ok=True)
            return 0
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            linked = os.path.realpath(os.path.join(root, posixpath.normpath(member.linkname)))
            if not os.path.isfile(linked):
                raise _refuse(label, member, f"hard link target {member.linkname!r} was not extracted before")
            os.link(linked, target)
        else:
            _write_file(archive, member, target)
    except OSError as exc:
        raise CodeFetchError(f"{label}: cannot extract member {member.name!r}: {exc}") from exc
    return 1


def _clear_way(target: str) -> None:
    """Remove a file or link already at `target` so the member replaces it (never written through)."""
    if os.path.islink(target) or os.path.isfile(target):
        os.unlink(target)


def _file_mode(mode: int) -> int:
    """tarfile.data_filter's rule: no setuid/setgid/sticky or group/other write; owner can read and write;
    group/other may execute only if the owner may."""
    mode = (mode & 0o755) | 0o600
    return mode if mode & 0o100 else mode & ~0o111


def _write_file(archive: tarfile.TarFile, member: tarfile.TarInfo, target: str) -> None:
    content = archive.extractfile(member)
    if content is None:  # only for non-regular members, which never reach here
        raise OSError(f"no data for {member.name!r}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(target, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            shutil.copyfileobj(content, out, COPY_CHUNK)
            os.fchmod(out.fileno(), _file_mode(member.mode))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise
    with contextlib.suppress(OSError, OverflowError, ValueError):  # timestamps are best effort
        os.utime(target, (member.mtime, member.mtime))
