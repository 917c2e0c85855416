"""The transform engine: one producer (this thread) splits and batches the files in order; a pool of
MaxConcurrentTransforms workers, each with its own keep-alive connection, invokes the server; one writer
thread hands results to each file's OrderedAssembler, which writes them in input order (so a worker sends its
next request while the last answer is being written).

Memory stays flat: at most `window` batches (default 2 x concurrency) exist between the producer and the
written outputs, whatever the input size and however the server orders its answers. A slot of the window is
taken before its batch is read (the producer never holds a batch of its own while it waits), a body is dropped
as soon as it is answered, and no thread keeps a reference to a batch or an output once its slot is given
back: the bodies in memory are at most `window` x MaxPayloadInMB.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from smtoolkit.errors import ConfigError, SmtoolkitError
from smtoolkit.transform.assemble import FileOutcome, OrderedAssembler
from smtoolkit.transform.batch import Batch, Batcher
from smtoolkit.transform.client import InvocationClient
from smtoolkit.transform.filters import DataProcessor
from smtoolkit.transform.io import InputFile, close_input, list_inputs, open_input
from smtoolkit.transform.progress import Progress, Summary
from smtoolkit.transform.settings import JobSettings
from smtoolkit.transform.sinks import OutputSink, make_sink

logger = logging.getLogger(__name__)

WorkItem = tuple[OrderedAssembler, Batch]
Result = tuple[OrderedAssembler, int, int, int, bytes]  # assembler, seq, records, size, output


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


class TransformRun:
    def __init__(self, settings: JobSettings, endpoint: Endpoint, environ: Mapping[str, str], progress: Progress):
        self.settings, self.endpoint, self.environ, self.progress = settings, endpoint, environ, progress
        local = settings.local
        self.processor = DataProcessor(
            settings.data_processing, settings.content_type, settings.accept, local.slice_end_inclusive
        )
        self.batcher = Batcher(settings, self.processor)
        self.window = threading.Semaphore(settings.window)
        self.work: queue.Queue[WorkItem | None] = queue.Queue()
        self.results: queue.Queue[Result | None] = queue.Queue()
        self.stopping = threading.Event()
        self.outcomes: list[FileOutcome] = []
        self.outcomes_lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.settings.content_type:
            headers["Content-Type"] = self.settings.content_type
        if self.settings.accept:
            headers["Accept"] = self.settings.accept
        return headers

    @contextlib.contextmanager
    def _open(self, file: InputFile) -> Iterator[BinaryIO]:
        stream = open_input(file, self.settings.gzip, self.environ)
        try:
            yield stream
        finally:
            close_input(stream)

    def _finished(self, outcome: FileOutcome) -> None:
        with self.outcomes_lock:
            self.outcomes.append(outcome)
        self.progress.file_done(outcome)

    def _output(self, batch: Batch, body: bytes) -> bytes:
        if not self.processor.splits_responses:
            return body
        outputs = self.processor.process_response(batch.sources or [], body)
        if self.settings.assemble_lines:
            return b"".join(output + b"\n" for output in outputs)
        return b"".join(outputs)

    def _worker(self) -> None:
        s = self.settings
        client = InvocationClient(self.endpoint.host, self.endpoint.port, s.timeout_s, self._headers(), s.max_retries)
        try:
            while (item := self.work.get()) is not None:
                self._invoke(client, *item)
                del item  # the batch is not kept while this worker waits for the next one
        finally:
            client.close()

    def _invoke(self, client: InvocationClient, assembler: OrderedAssembler, batch: Batch) -> None:
        if assembler.done or self.stopping.is_set():
            batch.discard()
            assembler.fail("the job was interrupted")
            return
        try:
            output = self._output(batch, client.invoke(batch.body))
        except SmtoolkitError as exc:
            batch.discard()
            assembler.fail(f"batch {batch.seq + 1} ({batch.records} records): {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - one file fails, never the worker
            batch.discard()
            logger.exception("Unexpected error in batch %d of %s", batch.seq + 1, assembler.outcome.file.uri)
            assembler.fail(f"batch {batch.seq + 1}: unexpected {type(exc).__name__}: {exc}")
            return
        batch.discard()  # answered: only the output goes on, and this worker sends its next batch
        self.results.put((assembler, batch.seq, batch.records, batch.size, output))

    def _writer(self) -> None:
        while (item := self.results.get()) is not None:
            assembler, seq, records, size, output = item
            del item
            assembler.deliver(seq, output, records, size)
            del output  # written (its slot given back) or pending in the assembler: not kept here
            self.progress.batch_done(records, size)

    def _next_batch(self, batches: Iterator[Batch]) -> Batch | None:
        """The next batch, its window slot already held; None (the slot given back) at the end."""
        try:
            batch = next(batches, None)
        except BaseException:
            self.window.release()
            raise
        if batch is None:
            self.window.release()
        return batch

    def _produce(self, file: InputFile, sink: OutputSink) -> None:
        assembler = OrderedAssembler(
            FileOutcome(file), sink, self.settings.assemble_lines, self._release, self._finished
        )
        count = 0
        try:
            with self._open(file) as stream:
                batches = self.batcher.batches(stream, lambda: self._open(file))
                while True:
                    self.window.acquire()  # before the batch is read: never more than `window` bodies
                    if assembler.done or self.stopping.is_set():
                        self.window.release()
                        return
                    if (batch := self._next_batch(batches)) is None:
                        break
                    self.work.put((assembler, batch))
                    del batch  # the workers own it; a reference here would outlive its slot
                    count += 1
        except (SmtoolkitError, OSError, EOFError, ValueError, zlib.error) as exc:  # EOFError: a truncated gzip
            assembler.fail(f"reading {file.uri}: {exc}", holds_slot=False)
            return
        assembler.input_done(count)

    def _release(self, count: int) -> None:
        for _ in range(count):
            self.window.release()

    def run(self, files: list[InputFile]) -> list[FileOutcome]:
        workers = [
            threading.Thread(target=self._worker, name=f"transform-{index}", daemon=True)
            for index in range(self.settings.concurrency)
        ]
        writer = threading.Thread(target=self._writer, name="transform-writer", daemon=True)
        for thread in (*workers, writer):
            thread.start()
        with tempfile.TemporaryDirectory(prefix="smtoolkit-transform-") as spool:
            sink = make_sink(self.settings.output_uri, self.environ, spool)
            try:
                for file in files:
                    self._produce(file, sink)
            except BaseException:
                self.stopping.set()
                raise
            finally:
                for _ in workers:
                    self.work.put(None)
                for worker in workers:  # after an interrupt, requests in flight are not waited for long
                    worker.join(5 if self.stopping.is_set() else None)
                self.results.put(None)
                writer.join()
        return self.outcomes


def run_transform(
    settings: JobSettings,
    endpoint: Endpoint,
    environ: Mapping[str, str],
    interactive: bool = False,
    on_summary: Callable[[Summary], None] | None = None,
) -> Summary:
    """List the inputs, transform every file, and return the summary (failures included, never raised).

    `on_summary` also gets the summary when the run is interrupted, with the files finished by then."""
    started = time.monotonic()
    files = list_inputs(settings.input_uri, settings.manifest, environ)
    if not files:
        raise ConfigError.single(
            settings.input_uri, "no input files there", "TransformInput.DataSource.S3DataSource.S3Uri"
        )
    sizes = [file.size for file in files]
    total = None if settings.gzip or None in sizes else sum(size or 0 for size in sizes)
    logger.info("Transforming %d files from %s to %s", len(files), settings.input_uri, settings.output_uri)
    progress = Progress(len(files), total)
    run = TransformRun(settings, endpoint, environ, progress)
    progress.start(interactive)
    try:
        run.run(files)
    finally:
        progress.stop()
        summary = Summary(len(files), run.outcomes, time.monotonic() - started)
        if on_summary is not None:
            on_summary(summary)
    return summary
