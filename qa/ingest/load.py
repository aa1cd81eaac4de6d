"""Load a corpus: a folder of .txt/.md articles (YAML front matter optional) or a BEIR-style JSONL file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Iterable

from qa.errors import CorpusError
from qa.records import Document

__all__ = ["load_corpus", "load_folder", "load_jsonl", "load_file", "corpus_hash", "ARTICLE_SUFFIXES",
           "SUPPORTED_SUFFIXES"]

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".md", ".markdown", ".txt")
# Read with the extractors in qa/ingest/formats.py: saved web pages, PDF reports, Word documents.
SUPPORTED_SUFFIXES = ARTICLE_SUFFIXES + (".html", ".htm", ".pdf", ".docx")
# A first line longer than this is prose, not a title.
_MAX_TITLE_CHARS = 200
# The first Markdown heading ("# Title" or "## Title"), without its hashes.
_MARKDOWN_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def load_corpus(path: str | Path, strict: bool = False, skipped: list[str] | None = None,
                progress: bool = False) -> list[Document]:
    """Load every document under ``path``.

    Args:
        path: a folder of articles (``.md``, ``.txt``, ``.html``, ``.pdf``, ``.docx``; searched
            recursively) or a ``.jsonl`` file with one ``{"_id", "title", "text", ...}`` object per line.
        strict: raise on the first file that cannot be read, instead of skipping it with a warning.
        skipped: if given, receives one line per skipped file ("path: reason").

    Returns:
        The documents, sorted by ``doc_id``.

    Raises:
        CorpusError: the path is missing or holds no readable document (or, when strict, a file cannot be read).
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} (give a folder of articles or a .jsonl file)")
    skipped = skipped if skipped is not None else []
    documents = load_jsonl(path) if path.is_file() and path.suffix.lower() == ".jsonl" else (
        _load_single(path, strict, skipped) if path.is_file() else load_folder(path, strict, skipped, progress))
    if not documents:
        why = f"; skipped {len(skipped)}: {skipped[0]}{' …' if len(skipped) > 1 else ''}" if skipped else ""
        raise CorpusError(f"corpus {path} holds no readable document with text "
                          f"(looked for {', '.join(SUPPORTED_SUFFIXES)} files){why}")
    ids = [d.doc_id for d in documents]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise CorpusError(f"corpus {path} has two documents with the id {dup!r}; ids must be unique")
    return sorted(documents, key=lambda d: d.doc_id)


# Below this many files, starting worker processes costs more than it saves.
PARALLEL_FROM_FILES = 32


def load_folder(folder: Path, strict: bool = False, skipped: list[str] | None = None,
                progress: bool = False) -> list[Document]:
    """Every supported file under ``folder`` (hidden ones left out), read in worker processes when there
    are many: PDF layout and OCR cost far more than a Python process. The order is the files' sorted
    order whatever the workers do, so document and chunk ids are the same on every run."""
    skipped = skipped if skipped is not None else []
    files = [f for f in sorted(p for p in folder.rglob("*") if p.is_file())
             if not any(part.startswith(".") for part in f.relative_to(folder).parts)]  # .git, swap files
    jobs = [(f, f.relative_to(folder).with_suffix("").as_posix()) for f in files]
    documents = []
    for doc, reason in parallel_map(_read_job, jobs, "reading", progress, parallel=len(jobs) >= PARALLEL_FROM_FILES):
        if reason:
            if strict:
                raise CorpusError(f"cannot read {reason}")
            skipped.append(reason)
            logger.warning("skipped %s", reason)
        elif doc is not None:
            documents.append(doc)
    return documents


def _read_job(job: tuple[Path, str]) -> tuple[Document | None, str]:
    """One file in a worker: the document, or why it was skipped (warnings are logged by the parent)."""
    file, doc_id = job
    reasons: list[str] = []
    doc = _load_or_skip(file, doc_id, strict=False, skipped=reasons, log=False)
    return doc, reasons[0] if reasons else ""


def parallel_map(function, items: list, stage: str, progress: bool = False, parallel: bool = True) -> list:
    """``[function(x) for x in items]``, in worker processes (one per core) when ``parallel``, results in
    the items' order; a progress bar with rate and ETA names the stage."""
    import os

    from tqdm.auto import tqdm

    workers = os.cpu_count() or 1
    with tqdm(total=len(items), desc=stage, unit="doc" if stage == "reading" else "item", disable=not progress) as bar:
        if not parallel or workers < 2 or len(items) < 2:
            results = []
            for item in items:
                results.append(function(item))
                bar.update(1)
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # "fork" where there is one: "spawn" re-imports the caller's main module, which breaks scripts that
        # call qa.build without a `__main__` guard. The build reads and chunks before it loads any model, so
        # no torch or ONNX Runtime threads exist yet to be copied into the workers.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = []
            for result in pool.map(function, items, chunksize=max(1, min(64, len(items) // (workers * 8)))):
                results.append(result)
                bar.update(1)
            return results


def _load_single(file: Path, strict: bool, skipped: list[str]) -> list[Document]:
    doc = _load_or_skip(file, file.stem, strict, skipped)
    return [doc] if doc is not None else []


def _load_or_skip(file: Path, doc_id: str, strict: bool, skipped: list[str], log: bool = True) -> Document | None:
    """One file as a document; an unreadable or unsupported one is skipped with a one-line warning."""
    try:
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(f"cannot read {file}: unsupported file type {file.suffix or '(none)'!r} "
                              f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
        doc = load_file(file, doc_id)
        if doc is None:
            raise CorpusError(f"cannot read {file}: no text in it")
        return doc
    except CorpusError as exc:
        if strict:
            raise
        reason = str(exc).removeprefix("cannot read ")
        skipped.append(reason)
        if log:
            logger.warning("skipped %s", reason)
        return None


def load_file(file: Path, doc_id: str | None = None) -> Document | None:
    """Read one article of any supported type; None when it holds no text.

    Raises:
        CorpusError: the file cannot be read.
    """
    doc_id = doc_id or file.stem
    suffix = file.suffix.lower()
    if suffix in ARTICLE_SUFFIXES:
        return _load_article(file, doc_id)
    from qa.ingest import formats

    reader = {".html": formats.read_html, ".htm": formats.read_html, ".pdf": formats.read_pdf,
              ".docx": formats.read_docx}[suffix]
    try:
        title, text, metadata = reader(file)
    except CorpusError:
        raise
    except Exception as exc:  # each parser has its own errors; a damaged file must never stop a build
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorpusError(f"cannot read {file}: {first}") from None
    if not text.strip():
        return None
    metadata = {k: _plain(v) for k, v in metadata.items() if v not in (None, "", [])}
    # No title guessed from the body here: a web page, PDF or Word file without one gets none (empty beats
    # wrong), and pages show the file's name instead.
    return Document(doc_id=doc_id, title=title, text=text, metadata=metadata, source=str(file))


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
    heading = _MARKDOWN_HEADING.search(text)
    first_line = heading.group(1).strip() if heading else text.strip().split("\n", 1)[0].strip()
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
