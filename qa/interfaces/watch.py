"""`qa watch`: keep an index in step with its corpus folder as files are added, changed and removed.

watchfiles reports changes (inotify on Linux) and gathers a burst of them, such as a folder copied in,
into one batch; each batch is one incremental refresh (`qa.build`: only new passages are embedded,
the index is swapped in whole). A file that cannot be read is skipped with a warning, and a refresh
that fails leaves the last good index serving.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qa.config import IndexConfig
from qa.errors import QAError

__all__ = ["Refresh", "refresh", "watch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refresh:
    """What one refresh changed."""

    added: int
    removed: int
    changed: int
    passages_embedded: int
    seconds: float
    skipped: tuple[str, ...] = ()
    error: str = ""

    def line(self) -> str:
        if self.error:
            return f"refresh failed, the last good index keeps serving: {self.error}"
        line = (f"+{self.added} −{self.removed} ~{self.changed} documents, "
                f"{self.passages_embedded} passages embedded, {self.seconds:.1f} s")
        return line + "".join(f"\n  skipped {reason}" for reason in self.skipped)


def _fingerprints(index_dir: Path) -> dict[str, str]:
    """doc_id -> hash of its text and metadata, as the index at ``index_dir`` holds them (empty if none)."""
    path = index_dir / "documents.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    prints = {}
    for line in lines:
        if line.strip():
            record = json.loads(line)
            body = json.dumps([record.get("title"), record.get("text"), record.get("metadata")], sort_keys=True)
            prints[record["doc_id"]] = hashlib.sha256(body.encode()).hexdigest()
    return prints


def refresh(corpus: Path, index_dir: Path, embedder=None, config: IndexConfig | None = None) -> Refresh:
    """Bring the index up to date with the folder; never raises for a bad corpus (the result says so)."""
    from qa.search.engine import build

    started = time.perf_counter()
    before = _fingerprints(index_dir)
    skipped = _SkippedFiles()
    logging.getLogger("qa.ingest.load").addHandler(skipped)
    try:
        engine = build(corpus, index_dir, config=config, embedder=embedder)
    except QAError as exc:
        return Refresh(0, 0, 0, 0, time.perf_counter() - started, error=str(exc))
    finally:
        logging.getLogger("qa.ingest.load").removeHandler(skipped)
    after = _fingerprints(index_dir)
    manifest = engine.manifest
    embedded = (manifest.get("build") or {}).get("passages_embedded", 0) if after != before else 0
    return Refresh(added=len(after.keys() - before.keys()), removed=len(before.keys() - after.keys()),
                   changed=sum(1 for d in after.keys() & before.keys() if after[d] != before[d]),
                   passages_embedded=embedded, seconds=time.perf_counter() - started,
                   skipped=tuple(skipped.reasons))


class _SkippedFiles(logging.Handler):
    """The reader's "skipped FILE: why" warnings of this refresh (an unchanged index keeps its old manifest)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("skipped "):
            self.reasons.append(message.removeprefix("skipped "))


def watch(corpus: Path, index_dir: Path, *, debounce_ms: int = 1000, report: Callable[[str], None] = print,
          stop: threading.Event | None = None) -> None:
    """Refresh now, then after every batch of changes under ``corpus``, until ``stop`` is set (or Ctrl-C)."""
    import watchfiles

    from qa.embed import SentenceTransformerEmbedder
    from qa.search.engine import open_index

    try:
        config = open_index(index_dir).config  # the settings the index was built with
    except QAError:
        config = IndexConfig()
    # One model for every refresh: loading it costs seconds, a refresh of one file far less.
    embedder = SentenceTransformerEmbedder(config.dense.model, batch_size=config.dense.batch_size)
    report(refresh(corpus, index_dir, embedder, config).line())
    report(f"watching {corpus} (Ctrl-C stops)")
    for _changes in watchfiles.watch(corpus, debounce=debounce_ms, stop_event=stop, raise_interrupt=False,
                                     watch_filter=watchfiles.DefaultFilter()):
        report(refresh(corpus, index_dir, embedder, config).line())
