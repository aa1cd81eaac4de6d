"""Evaluation: question/passage sets labelled by quote, BEIR collections, metrics from ir-measures.

Kept apart from retrieval: it only calls ``Engine.search`` and scores the rankings.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from qa.search.engine import MODES, Engine
from qa.errors import CorpusError, InvalidArgumentError
from qa.records import Chunk

__all__ = ["Relevant", "EvalQuestion", "load_eval_set", "passage_qrels", "answer_units", "run_engine", "score_run",
           "RETRIEVAL_METRICS", "evaluate_set", "load_beir", "evaluate_beir", "recall_curve"]

# Reported metric name -> ir-measures measure string; the names match published tables.
RETRIEVAL_METRICS = {"recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "mrr@10": "RR@10",
                     "ndcg@10": "nDCG@10"}


@dataclass(frozen=True)
class Relevant:
    """A passage that answers a question, labelled by article and exact quote, never by chunk id."""

    doc_id: str
    quote: str
    grade: int = 1  # 2: answers the question; 1: answers part of it or supports the answer


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    relevant: tuple[Relevant, ...] = ()
    type: str = "fact"  # fact, why, how, broad, out_of_scope
    split: str = "test"  # train (tuning) or test (reporting)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_scope(self) -> bool:
        return bool(self.relevant)


def load_eval_set(path: str | Path) -> list[EvalQuestion]:
    """Read an eval set (JSONL; the format is in eval/README.md).

    Raises:
        CorpusError: the file is missing or a line is malformed.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusError(f"cannot read the eval set {path}: {exc.strerror or exc}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            relevant = tuple(Relevant(r["doc_id"], r["quote"], int(r.get("grade", 1))) for r in row.get("relevant", []))
            known = {"id", "question", "relevant", "type", "split"}
            questions.append(EvalQuestion(id=str(row["id"]), question=row["question"], relevant=relevant,
                                          type=row.get("type", "fact" if relevant else "out_of_scope"),
                                          split=row.get("split", "test"),
                                          extra={k: v for k, v in row.items() if k not in known}))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path} line {number} is not a valid eval question ({exc})") from None
    if not questions:
        raise CorpusError(f"{path} holds no questions")
    return questions


def quote_span(engine: Engine, relevant: Relevant) -> tuple[int, int]:
    """Where the quote stands in its article (first occurrence)."""
    text = engine.document(relevant.doc_id).text
    start = text.find(relevant.quote)
    if start < 0:
        raise InvalidArgumentError(f"the quote {relevant.quote[:60]!r}… is not in {relevant.doc_id}; "
                                   "fix the eval set or re-index the corpus it was written for")
    return start, start + len(relevant.quote)


def _covers(chunk: Chunk, start: int, end: int) -> bool:
    # A passage answers a quote when it holds at least half of it (or, for a passage
    # shorter than the quote, when at least half of the passage is quote).
    overlap = min(chunk.char_end, end) - max(chunk.char_start, start)
    return overlap > 0 and overlap >= 0.5 * min(end - start, chunk.char_end - chunk.char_start)


def passage_qrels(engine: Engine, questions: Iterable[EvalQuestion]) -> dict[str, dict[str, int]]:
    """Relevance of passages (by chunk id) for each in-scope question, derived from the quotes."""
    by_doc: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in engine.chunks:
        by_doc[chunk.doc_id].append(chunk)
    qrels: dict[str, dict[str, int]] = {}
    for q in questions:
        if not q.in_scope:
            continue
        grades: dict[str, int] = {}
        for rel in q.relevant:
            start, end = quote_span(engine, rel)
            for chunk in by_doc[rel.doc_id]:
                if _covers(chunk, start, end):
                    grades[chunk.chunk_id] = max(grades.get(chunk.chunk_id, 0), rel.grade)
        qrels[q.id] = grades
    return qrels


def answer_units(engine: Engine, questions: Iterable[EvalQuestion],
                 runs: Mapping[str, Sequence[str]]) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """Qrels and runs over answers (the quotes) instead of passages.

    Search collapses passages that overlap by more than half into one, as a reader would; two
    overlapping passages that both hold a quote are then one answer found, not one of two missed.
    Each retrieved passage stands for the quotes it holds that no earlier passage held (so finding the
    same answer twice counts once), or for itself when it holds none.
    """
    by_id = {c.chunk_id: c for c in engine.chunks}
    qrels: dict[str, dict[str, int]] = {}
    units: dict[str, list[str]] = {}
    for q in questions:
        if not q.in_scope:
            continue
        spans = [(f"{q.id}/{i}", rel.doc_id, *quote_span(engine, rel), rel.grade) for i, rel in enumerate(q.relevant)]
        qrels[q.id] = {unit: grade for unit, _, _, _, grade in spans}
        ranked, seen = [], set()
        for chunk_id in runs.get(q.id, []):
            chunk = by_id[chunk_id]
            found = [unit for unit, doc_id, start, end, _ in spans
                     if doc_id == chunk.doc_id and unit not in seen and _covers(chunk, start, end)]
            seen.update(found)
            ranked.extend(found or [chunk_id])
        units[q.id] = ranked
    return qrels, units


def run_engine(engine: Engine, questions: Mapping[str, str], mode: str, depth: int = 100) -> dict[str, list[str]]:
    """Ranked chunk ids per question id."""
    return {qid: [h.chunk_id for h in engine.search(text, k=depth, mode=mode)]  # type: ignore[arg-type]
            for qid, text in questions.items()}


def score_run(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Sequence[str]],
              metrics: Mapping[str, str] = RETRIEVAL_METRICS) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-question metrics with ir-measures (pytrec_eval underneath).

    Ranks are turned into descending scores, so ir-measures sees exactly our order.
    Questions with no returned passage score 0, as in trec_eval with -c.
    """
    import ir_measures

    measures = {name: ir_measures.parse_measure(spec) for name, spec in metrics.items()}
    qrel_rows = [ir_measures.Qrel(qid, doc, grade) for qid, docs in qrels.items() for doc, grade in docs.items()]
    run_rows = [ir_measures.ScoredDoc(qid, doc, float(len(ranked) - i))
                for qid, ranked in run.items() if qid in qrels for i, doc in enumerate(ranked)]
    per_query: dict[str, dict[str, float]] = {qid: {name: 0.0 for name in measures} for qid in qrels}
    by_measure = {m: name for name, m in measures.items()}
    for row in ir_measures.iter_calc(list(measures.values()), qrel_rows, run_rows):
        per_query[row.query_id][by_measure[row.measure]] = float(row.value)
    means = {name: statistics.fmean(q[name] for q in per_query.values()) if per_query else 0.0 for name in measures}
    return means, per_query


def recall_curve(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Sequence[str]], max_k: int = 20) -> list[float]:
    """Mean recall@k for k = 1..max_k."""
    return [score_run(qrels, run, {"r": f"R@{k}"})[0]["r"] for k in range(1, max_k + 1)]


def evaluate_set(engine: Engine, questions: Sequence[EvalQuestion], modes: Sequence[str] = MODES,
                 split: str | None = None, depth: int = 100) -> dict[str, Any]:
    """Retrieval metrics per mode over the in-scope questions (of one split, if given)."""
    chosen = [q for q in questions if q.in_scope and (split is None or q.split == split)]
    if not chosen:
        raise InvalidArgumentError(f"no in-scope questions{f' in split {split!r}' if split else ''}")
    results: dict[str, Any] = {"questions": len(chosen), "split": split or "all", "modes": {}}
    for mode in modes:
        qrels, run = answer_units(engine, chosen, run_engine(engine, {q.id: q.question for q in chosen}, mode, depth))
        means, per_query = score_run(qrels, run)
        results["modes"][mode] = {"metrics": means, "recall_curve": recall_curve(qrels, run), "per_query": per_query}
    return results


def load_beir(folder: str | Path, split: str = "test") -> tuple[Path, dict[str, str], dict[str, dict[str, int]]]:
    """The corpus file, the queries of ``split`` and their qrels from a BEIR folder."""
    folder = Path(folder)
    corpus, queries_file, qrels_file = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    for needed in (corpus, queries_file, qrels_file):
        if not needed.is_file():
            raise CorpusError(f"{needed} is missing; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with qrels_file.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle):
            parts = line.rstrip("\r\n").split("\t")  # BEIR ships these with CRLF line ends
            if line_no == 0 and parts[0] == "query-id":
                continue
            if len(parts) >= 3:
                qrels[parts[0]][parts[1]] = int(parts[2])
    queries = {}
    with queries_file.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["_id"] in qrels:  # only the split's queries; never the metadata (evidence labels)
                queries[row["_id"]] = row["text"]
    return corpus, queries, dict(qrels)


def documents_by_best_passage(engine: Engine, ranked_chunks: Sequence[str]) -> list[str]:
    """A document ranking from a passage ranking: each document where its best passage stands."""
    chunk_doc = {c.chunk_id: c.doc_id for c in engine.chunks}
    seen: dict[str, None] = {}
    for chunk_id in ranked_chunks:
        seen.setdefault(chunk_doc[chunk_id], None)
    return list(seen)


def evaluate_beir(engine: Engine, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
                  modes: Sequence[str] = MODES, depth: int = 1000) -> dict[str, Any]:
    """nDCG@10 and Recall@100 per mode, documents ranked by their best passage."""
    results: dict[str, Any] = {"queries": len(queries), "modes": {}}
    for mode in modes:
        passages = run_engine(engine, queries, mode, depth)
        run = {qid: documents_by_best_passage(engine, ranked) for qid, ranked in passages.items()}
        means, per_query = score_run(qrels, run, {"ndcg@10": "nDCG@10", "recall@100": "R@100"})
        results["modes"][mode] = {"metrics": means, "per_query": per_query}
    return results
