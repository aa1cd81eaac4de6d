"""Load a corpus: a folder of .txt/.md articles (YAML front matter optional) or a BEIR-style JSONL file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterable

from .errors import CorpusError
from .records import Document

__all__ = ["load_corpus", "load_folder", "load_jsonl", "corpus_hash", "ARTICLE_SUFFIXES"]

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".md", ".markdown", ".txt")
# A first line longer than this is prose, not a title.
_MAX_TITLE_CHARS = 200


def load_corpus(path: str | Path) -> list[Document]:
    """Load every document under ``path``.

    Args:
        path: a folder of ``.txt``/``.md`` files (searched recursively) or a
            ``.jsonl`` file with one ``{"_id", "title", "text", ...}`` object per line.

    Returns:
        The documents, sorted by ``doc_id``.

    Raises:
        CorpusError: the path is missing, holds no documents, or a file cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} (give a folder of .md/.txt articles or a .jsonl file)")
    documents = load_jsonl(path) if path.is_file() else load_folder(path)
    if not documents:
        raise CorpusError(f"corpus {path} holds no documents with text (looked for {', '.join(ARTICLE_SUFFIXES)} files)")
    ids = [d.doc_id for d in documents]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise CorpusError(f"corpus {path} has two documents with the id {dup!r}; ids must be unique")
    return sorted(documents, key=lambda d: d.doc_id)


def load_folder(folder: Path) -> list[Document]:
    documents = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES):
        if any(part.startswith(".") for part in file.relative_to(folder).parts):
            continue  # hidden files and folders (.git, editor swap files)
        doc = _load_article(file, doc_id=file.relative_to(folder).with_suffix("").as_posix())
        if doc is None:
            logger.warning("skipped %s: no text", file)
        else:
            documents.append(doc)
    return documents


def _load_article(file: Path, doc_id: str) -> Document | None:
    try:
        raw = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"cannot read {file}: not UTF-8 text (byte {exc.start}); convert it to UTF-8 or remove it") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {file}: {exc.strerror or exc}") from None
    if "\x00" in raw:
        raise CorpusError(f"cannot read {file}: it looks like a binary file, not text")
    raw = raw.replace("\r\n", "\n")
    metadata, text = _split_front_matter(raw, file)
    if not text.strip():
        return None
    title = str(metadata.pop("title", "") or "").strip()
    metadata = {k: _plain(v) for k, v in metadata.items()}
    if "authors" not in metadata and metadata.get("author"):
        metadata["authors"] = [metadata.pop("author")]
    if isinstance(metadata.get("authors"), str):
        metadata["authors"] = [metadata["authors"]]
    if not title:
        title = _fallback_title(text, metadata, file, has_front_matter=bool(metadata))
    return Document(doc_id=doc_id, title=title, text=text, metadata=metadata, source=str(file))


def _split_front_matter(raw: str, file: Path) -> tuple[dict[str, Any], str]:
    if not raw.startswith("---\n"):
        return {}, raw
    import frontmatter  # python-frontmatter; imported here so plain-text corpora never need YAML

    try:
        post = frontmatter.loads(raw)
    except Exception as exc:  # yaml.YAMLError and friends: report, never crash on a user's file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorpusError(f"cannot read the front matter of {file}: {first}") from None
    # python-frontmatter strips the body; recover the verbatim text after the closing fence.
    closing = raw.find("\n---", 3)
    body = raw[raw.index("\n", closing + 1) + 1 :] if closing != -1 and "\n" in raw[closing + 1 :] else post.content
    return dict(post.metadata), body


def _fallback_title(text: str, metadata: dict[str, Any], file: Path, has_front_matter: bool) -> str:
    publication = metadata.get("publication")
    if has_front_matter and publication:
        parts = [str(publication)]
        if metadata.get("volume"):
            parts.append(f"Vol. {metadata['volume']}")
        if metadata.get("issue"):
            parts.append(f"Issue {metadata['issue']}")
        return ", ".join(parts)
    first_line = text.strip().split("\n", 1)[0].strip()
    if not has_front_matter and 0 < len(first_line) <= _MAX_TITLE_CHARS:
        return first_line
    return file.stem.replace("_", " ").replace("-", " ")


def _plain(value: Any) -> Any:
    """Make YAML values JSON-safe: dates become ISO strings."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def load_jsonl(file: Path) -> list[Document]:
    """Documents in BEIR corpus form; fields other than ``_id``/``title``/``text`` become metadata."""
    documents = []
    try:
        handle = file.open(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"cannot read {file}: {exc.strerror or exc}") from None
    with handle:
        try:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{file} line {line_no} is not valid JSON: {exc.msg}") from None
                if not isinstance(record, dict) or "text" not in record:
                    raise CorpusError(f"{file} line {line_no} needs a JSON object with a \"text\" field")
                doc_id = str(record.get("_id", record.get("id", line_no)))
                text = str(record.get("text") or "")
                if not text.strip():
                    logger.warning("skipped document %s in %s: no text", doc_id, file)
                    continue
                metadata = {k: v for k, v in record.items() if k not in ("_id", "id", "title", "text", "metadata")}
                if isinstance(record.get("metadata"), dict):
                    metadata.update(record["metadata"])
                documents.append(Document(doc_id=doc_id, title=str(record.get("title") or ""), text=text,
                                          metadata=metadata, source=f"{file}:{line_no}"))
        except UnicodeDecodeError as exc:
            raise CorpusError(f"cannot read {file}: not UTF-8 text (byte {exc.start})") from None
    return documents


def corpus_hash(documents: Iterable[Document]) -> str:
    """A content hash of the corpus: changes when any text, title or metadata changes."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.doc_id):
        record = [doc.doc_id, doc.title, doc.text, doc.metadata]
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
