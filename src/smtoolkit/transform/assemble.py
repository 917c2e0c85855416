"""Ordered assembly of one input file's `.out`: results arrive in any order from the workers and are
written in input order; the output is committed only when every batch succeeded, else nothing is left.

AssembleWith=Line ends every batch's output with `\\n` unless it already ends with one (an identity model
answering CSV rows gives back the file as it was); AssembleWith=None concatenates the bodies as they are.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from smtoolkit.transform.io import InputFile
from smtoolkit.transform.sinks import OutputSink, OutputWriter

logger = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    file: InputFile
    records: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    error: str | None = None
    location: str | None = None


@dataclass
class OrderedAssembler:
    """One input file's results. `release(n)` is called once per batch written or dropped, so the producer's
    window of batches in memory moves on."""

    outcome: FileOutcome
    sink: OutputSink
    assemble_lines: bool
    release: Callable[[int], None]
    on_done: Callable[[FileOutcome], None]
    lock: threading.Lock = field(default_factory=threading.Lock)
    writer: OutputWriter | None = None
    pending: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)
    next_seq: int = 0
    total: int | None = None
    done: bool = False

    @property
    def failed(self) -> bool:
        return self.outcome.error is not None

    def deliver(self, seq: int, output: bytes, records: int, size: int) -> None:
        with self.lock:
            if self.done:
                self.release(1)
                return
            self.pending[seq] = (output, records, size)
            try:
                self._write_ready()
            except Exception as exc:  # noqa: BLE001 - a write or upload error fails this file only
                self._fail(f"writing the output failed: {exc}")

    def fail(self, message: str, holds_slot: bool = True) -> None:
        """The file failed (a batch, the splitter, or the reader); `holds_slot`: a batch's slot to give back."""
        with self.lock:
            if holds_slot:
                self.release(1)
            if not self.done:
                self._fail(message)

    def input_done(self, total: int) -> None:
        """The producer made `total` batches for this file."""
        with self.lock:
            self.total = total
            if not self.done:
                try:
                    self._write_ready()
                except Exception as exc:  # noqa: BLE001
                    self._fail(f"writing the output failed: {exc}")

    def _write_ready(self) -> None:
        if self.writer is None:
            self.writer = self.sink.open(self.outcome.file.relative)
        while self.next_seq in self.pending:
            output, records, size = self.pending.pop(self.next_seq)
            self.writer.write(output)
            if self.assemble_lines and not output.endswith(b"\n"):
                self.writer.write(b"\n")
            self.outcome.records += records
            self.outcome.bytes_in += size
            self.outcome.bytes_out += len(output)
            self.next_seq += 1
            del output  # written: not kept past its slot
            self.release(1)
        if self.total is not None and self.next_seq == self.total:
            self.outcome.location = self.writer.commit()
            self.done = True
            self.on_done(self.outcome)

    def _fail(self, message: str) -> None:
        self.outcome.error = message
        self.done = True
        self.release(len(self.pending))
        self.pending.clear()
        if self.writer is not None:
            self.writer.abort()
        self.on_done(self.outcome)
