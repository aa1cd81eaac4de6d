"""An open index that follows rebuilds: `qa serve` and `qa mcp` pick up what `qa watch` or `qa index` wrote.

A build swaps a new index directory in whole (``store.write_index_dir``), so a new manifest file means
a complete new index. Each request takes the engine current at its start; a search in flight keeps
the engine it began with (everything it reads is in memory) and finishes on the old index.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from qa.errors import QAError
from qa.backends.milvus import is_milvus_uri
from qa.search.engine import Engine, _read_any_manifest, open_index

__all__ = ["LiveIndex"]

logger = logging.getLogger(__name__)


class LiveIndex:
    """``live.engine`` is the index at ``index`` as last built; reopened when its manifest changes."""

    def __init__(self, index: str | Path, *, check_every: float | None = None):
        self.milvus = is_milvus_uri(index)
        self.index = index if self.milvus else Path(index)
        # Seconds between looks at the manifest: one stat call locally, one small query in Milvus.
        self.check_every = check_every if check_every is not None else (5.0 if self.milvus else 1.0)
        self._lock = threading.Lock()
        self._stamp = self._manifest_stamp()
        self._engine = open_index(self.index)
        self._checked = time.monotonic()

    def _manifest_stamp(self) -> tuple | None:
        if self.milvus:
            from qa.backends.milvus import MilvusStore

            try:
                store = MilvusStore(self.index)
                return store.collection(), store.read_manifest().get("created_at")
            except QAError:
                return None  # unreachable for now: keep serving what we have
        try:
            stat = os.stat(self.index / "manifest.json")
        except OSError:
            return None  # between a build's two renames, or removed: keep serving what we have
        return stat.st_ino, stat.st_mtime_ns

    @property
    def engine(self) -> Engine:
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self._engine
        with self._lock:
            self._checked = now
            stamp = self._manifest_stamp()
            if stamp is not None and stamp != self._stamp:
                try:
                    # The model is loaded once: the new index reuses the old one's embedder when it matches.
                    fresh = open_index(self.index, embedder=self._reusable_embedder())
                except QAError as exc:
                    logger.warning("keeping the index already open: %s", exc)
                else:
                    self._engine, self._stamp = fresh, stamp
                    logger.info("reopened %s (%d passages)", self.index, len(fresh.chunks))
        return self._engine

    def _reusable_embedder(self):
        old = self._engine.embedder
        model = _read_any_manifest(self.index)["model"]
        same = (model.get("name") == old.name and model.get("weights_sha256") == old.fingerprint
                and model.get("encoder", "sentence-transformers") == getattr(old, "encoder", "sentence-transformers"))
        return old if same else None
