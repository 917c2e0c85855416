"""One worker's loaded models, kept in step with the store every worker shares.

A load through any worker lists the model in the store once that worker has it loaded; every other worker
loads it on its first request for it (lazily: a model the platform loads but sends no traffic to a worker
costs that worker nothing, and the load answers without waiting for N copies). A listed model is never a
404: a worker that lacks it loads it on demand. A removal unlists it for all; each worker drops its copy on
its next request or at the watcher's next look, whichever comes first. Loads of one name wait for each
other in a worker; other models' invocations never wait for a load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.multimodel import memory
from smtoolkit.serve.protocols.multimodel.loader import ModelLoader
from smtoolkit.serve.protocols.multimodel.store import ModelRecord, SharedStore, not_loaded

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    url: str
    handler: InferenceHandler
    load_id: str
    loaded_at: float
    memory_bytes: int  # what the load added to the process that measured it


class ModelRegistry:
    def __init__(self, store: SharedStore, loader: ModelLoader, budget_bytes: int) -> None:
        self.store, self.loader, self.budget_bytes = store, loader, budget_bytes
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._measure_lock = threading.Lock()  # one measured load at a time: RSS deltas stay honest
        self._seen_generation = -1
        self._stop = threading.Event()

    def _name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    # The management routes.
    def load(self, name: str, url: str) -> ModelRecord:
        """POST /models: load here, then list for every worker. Conflict, NotFound, BadRequest,
        InsufficientStorage or the load's ServeError; nothing stays of a failed load."""
        memory.check_fits(self.store.committed_bytes(), 0, self.budget_bytes, name)  # full: skip the work
        with self._name_lock(name):
            claim = self.store.claim(name, url)
            handler: InferenceHandler | None = None
            try:
                with self._measure_lock, memory.measured() as cost:
                    handler = self.loader.load(url)
                total = cost.bytes * self.store.workers

                def fits(committed: int) -> None:
                    memory.check_fits(committed, total, self.budget_bytes, name)

                record = self.store.publish(claim, cost.bytes, fits)
                self._keep(record, handler)
            except BaseException:
                if handler is not None:
                    handler.close()
                handler = None  # the traceback keeps this frame: let go of the model before releasing
                self.store.abandon(claim)
                memory.release()
                raise
        logger.info("Loaded model %s from %s (%.1f MiB)", name, url, cost.bytes / memory.MEBIBYTE)
        return record

    def unload(self, name: str) -> ModelRecord:
        """DELETE /models/NAME: unlist for every worker and free this worker's copy; NotFound if not loaded."""
        record = self.store.remove(name)
        self.sync()
        logger.info("Unloaded model %s", name)
        return record

    def describe(self, name: str) -> ModelRecord:
        """GET /models/NAME; NotFound when not loaded."""
        record = self.store.record(name)
        if record is None or record.state != "ready":
            raise not_loaded(name)
        return record

    def listed(self) -> list[ModelRecord]:
        return self.store.listed()

    # Invocations.
    def handler(self, name: str) -> InferenceHandler:
        """The model's handler in this worker, loaded now if it is listed but not here yet; NotFound if not."""
        self.sync()
        entry = self._models.get(name)
        if entry is not None:
            return entry.handler
        record = self.describe(name)  # not listed: 404 at once, even while this worker is loading it
        with self._name_lock(name):
            entry = self._models.get(name)
            if entry is not None:
                return entry.handler
            record = self.describe(name)
            handler = self.loader.load(record.url)
            current = self.store.record(name)
            if current is not None and current.load_id == record.load_id:
                self._keep(record, handler)
            else:
                handler.close()  # unloaded meanwhile: no batcher thread may keep it; a closed one runs calls inline
            return handler  # and it still answers the request that found it listed

    def loaded_here(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def _keep(self, record: ModelRecord, handler: InferenceHandler) -> None:
        entry = LoadedModel(record.name, record.url, handler, record.load_id, time.time(), record.memory_bytes)
        with self._lock:
            self._models[record.name] = entry
        memory.keep_out_of_collections()

    def sync(self) -> list[str]:
        """Drop the models the store no longer lists (or lists from another load) and free their memory;
        the names dropped."""
        generation = self.store.generation()
        if generation == self._seen_generation:
            return []
        listed = {record.name: record.load_id for record in self.store.listed()}
        with self._lock:
            stale = [name for name, entry in self._models.items() if listed.get(name) != entry.load_id]
            for name in stale:
                self._models.pop(name).handler.close()  # its batcher thread lets go of the model
            self._seen_generation = generation
        if stale:
            memory.release()
            logger.info("Released models %s", ", ".join(stale))
        return stale

    def watch(self, interval_s: float = 0.5, on_sync: Callable[[list[str]], None] | None = None) -> threading.Thread:
        """A daemon thread that syncs every `interval_s`, so an idle worker frees unloaded models too;
        `on_sync` gets the names each look released."""

        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    released = self.sync()
                    if on_sync is not None:
                        on_sync(released)
                except Exception:  # the store vanished at shutdown, a disk error: keep serving
                    logger.exception("Syncing the model registry failed")

        thread = threading.Thread(target=run, name="model-registry-sync", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._stop.set()
