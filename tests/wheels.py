"""Tiny real wheels written straight as zip files (no build backend, no index): for pip installs that run offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def write_wheel(
    folder: Path,
    name: str,
    version: str,
    padding_kib: int = 0,
    script: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """`folder/<name>-<version>-py3-none-any.whl` with one module `<name>` (VERSION = version) and, with
    `padding_kib`, a data file of that size so the install has some bytes to unpack; with `script`, a console
    script of that name that prints VERSION; `extra`: more files, by their path in site-packages (a .pth...)."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n\ndef main():\n    print(VERSION)\n".encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: smtoolkit-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    if script:
        files[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{script} = {module}:main\n".encode()
    files.update({path: text.encode() for path, text in (extra or {}).items()})
    if padding_kib:
        files[f"{module}/padding.bin"] = bytes(range(256)) * (4 * padding_kib)
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
