"""The index directory: a manifest beside plain arrays, written aside and swapped in whole."""

from __future__ import annotations

import datetime as dt
import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from qa import __version__
from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, QAError

__all__ = ["FORMAT_VERSION", "write_index_dir", "read_manifest", "write_jsonl", "read_jsonl", "MANIFEST"]

logger = logging.getLogger(__name__)

# 2: the BM25 tokenizer tells "US"/"U.S." (kept) from the pronoun "us" (a stop word) by case.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"


@contextmanager
def write_index_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``target``; on success it replaces ``target``.

    On any failure (or Ctrl-C) the temporary directory is removed and the
    previous index is left exactly as it was.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QAError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    _recover(target)
    # A build killed outright (kill -9, power loss) leaves its staging directory behind: clear it.
    for stale in target.parent.glob(f".{target.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    except OSError as exc:
        raise QAError(f"cannot write beside {target}: {exc.strerror or exc}") from None
    try:
        yield staging
        previous = target.parent / f".{target.name}.previous"
        if target.exists():
            if previous.exists():
                shutil.rmtree(previous)
            os.replace(target, previous)
        # The two renames are each atomic; _recover() mends the instant between them.
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _recover(target: Path) -> None:
    """Put back an index that a crash left moved aside between the two renames."""
    previous = target.parent / f".{target.name}.previous"
    if previous.exists() and not target.exists():
        os.replace(previous, target)
        logger.warning("restored the previous index at %s after an interrupted build", target)


def new_manifest(**fields: Any) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "qa_version": __version__,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **fields}


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_manifest(index_dir: Path) -> dict[str, Any]:
    index_dir = Path(index_dir)
    _recover(index_dir)
    if not index_dir.is_dir():
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `qa index CORPUS --index {index_dir}`")
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexCorruptError(f"{index_dir} has no {MANIFEST}, so it is not a qa index (or its build never finished); "
                                f"rebuild with `qa index CORPUS --index {index_dir}`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path} is damaged ({exc}); rebuild with `qa index CORPUS --index {index_dir}`") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(f"the index at {index_dir} has format {version!r} but this qa (version {__version__}) "
                                 f"reads format {FORMAT_VERSION}; rebuild with `qa index CORPUS --index {index_dir}`")
    for key in ("config", "model", "corpus"):
        if not isinstance(manifest.get(key), dict):
            raise IndexCorruptError(f"{path} lacks its {key!r} section; rebuild with `qa index CORPUS --index {index_dir}`")
    return manifest


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name ``path`` in any error while writing it: zipfile (NumPy) and FAISS report a full disk or a
    file-size limit without the file name, and FAISS as a RuntimeError."""
    try:
        yield
    except OSError as exc:
        if exc.filename:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except RuntimeError as exc:
        raise OSError(errno.EIO, f"cannot write ({str(exc).splitlines()[0][:120]})", str(path)) from None


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} is missing; rebuild with `qa index`") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path} is damaged ({exc}); rebuild with `qa index`") from None
