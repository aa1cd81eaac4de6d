"""Tuning on training data only: fusion settings (eval-set train split, SciFact train) and answer scoring."""

from __future__ import annotations

import itertools
from dataclasses import asdict, replace
from typing import Any, Callable, Mapping, Sequence

from qa.search.answer import AnswerConfig, Candidate, candidate_sentences, decide
from qa.config import FusionConfig
from qa.search.engine import Engine
from qa.evaluation.evaluate import EvalQuestion, documents_by_best_passage, quote_span, score_run

__all__ = ["fusion_grid", "tune_fusion", "answer_metrics", "rate_intervals", "pool_metrics", "handled_share", "tune_answers",
           "choose_answer_config", "tune_evidence", "Collection"]

# Training questions over the index they were written for: answer settings can be tuned on several archives at
# once (the eval set's, and the real documents'), each question counting once.
Collection = tuple[Engine, Sequence[EvalQuestion]]


def fusion_grid() -> list[FusionConfig]:
    grid = [FusionConfig(method="rrf", rrf_k=k, depth=d) for k in (5, 10, 20, 40, 60, 100) for d in (20, 50, 100)]
    grid += [FusionConfig(method="weighted", dense_weight=w, depth=d)
             for w in (0.3, 0.4, 0.5, 0.6, 0.7) for d in (20, 50, 100)]
    return grid


def tune_fusion(engine: Engine, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
                metric: str = "ndcg@10", documents: bool = False, grid: Sequence[FusionConfig] | None = None,
                ) -> list[dict[str, Any]]:
    """Score every fusion setting on the given (training) queries, best first.

    The dense and BM25 candidate lists do not depend on the fusion settings, so
    each query is searched once per retriever at the largest depth and fused in memory.
    """
    grid = list(grid or fusion_grid())
    deepest = max(f.depth for f in grid)
    from qa.search.fuse import reciprocal_rank_fusion, weighted_fusion

    scored = {mode: {qid: [(h.chunk_id, h.score) for h in engine.search(q, k=deepest, mode=mode)]  # type: ignore[arg-type]
                     for qid, q in queries.items()} for mode in ("dense", "bm25")}
    dense = {qid: [c for c, _ in hits] for qid, hits in scored["dense"].items()}
    bm25 = {qid: [c for c, _ in hits] for qid, hits in scored["bm25"].items()}
    rows = []
    for fusion in grid:
        run = {}
        for qid in queries:
            if fusion.method == "rrf":
                fused = reciprocal_rank_fusion([bm25[qid][:fusion.depth], dense[qid][:fusion.depth]], k=fusion.rrf_k)
            else:
                fused = weighted_fusion([dict(scored["bm25"][qid][:fusion.depth]), dict(scored["dense"][qid][:fusion.depth])],
                                        [1 - fusion.dense_weight, fusion.dense_weight])
            ranked = [chunk for chunk, _ in fused]
            run[qid] = documents_by_best_passage(engine, ranked) if documents else ranked
        means, _ = score_run(qrels, run, {metric: {"ndcg@10": "nDCG@10", "mrr@10": "RR@10", "recall@100": "R@100"}[metric]})
        rows.append({"fusion": asdict(fusion), metric: means[metric]})
    return sorted(rows, key=lambda r: -r[metric])


def _correct(engine: Engine, question: EvalQuestion, chosen: Sequence[Candidate]) -> bool:
    """The answer is right when one gold quote lies wholly within the chosen sentences' spans."""
    for rel in question.relevant:
        start, end = quote_span(engine, rel)
        spans = sorted((c.char_start, c.char_end) for c in chosen if c.hit.doc_id == rel.doc_id)
        covered = 0
        for s, e in spans:
            covered += max(0, min(e, end) - max(s, start))
        if covered >= (end - start):
            return True
    return False


def answer_metrics(engine: Engine, questions: Sequence[EvalQuestion], config: AnswerConfig,
                   candidates: Mapping[str, list[Candidate]] | None = None, k: int = 5) -> dict[str, float]:
    """Answer accuracy (a gold quote within the answer sentences) over in-scope questions, how often
    they were answered at all, and the abstention rate on out-of-scope questions."""
    candidates = candidates or {q.id: candidate_sentences(engine, q.question, engine.search(q.question, k=k))
                                for q in questions}
    correct = answered = in_scope = 0
    abstained: dict[str, list[bool]] = {"near_miss": [], "off_topic": []}
    for q in questions:
        found, chosen, _ = decide(engine, q.question, candidates[q.id], config)
        if q.in_scope:
            in_scope += 1
            answered += found
            correct += found and _correct(engine, q, chosen)
        else:
            abstained["near_miss" if q.type == "near_miss" else "off_topic"].append(not found)
    out_scope = sum(len(v) for v in abstained.values())
    return {"answer_accuracy": correct / in_scope if in_scope else 0.0,
            "answered": answered / in_scope if in_scope else 0.0,
            "abstention": sum(sum(v) for v in abstained.values()) / out_scope if out_scope else 0.0,
            "abstention_near_miss": sum(abstained["near_miss"]) / len(abstained["near_miss"]) if abstained["near_miss"] else 0.0,
            "abstention_off_topic": sum(abstained["off_topic"]) / len(abstained["off_topic"]) if abstained["off_topic"] else 0.0,
            "in_scope": in_scope, "out_of_scope": out_scope, "near_miss": len(abstained["near_miss"]),
            "off_topic": len(abstained["off_topic"])}


def _handled(metrics: Mapping[str, float]) -> float:
    """The share of questions handled right: an in-scope one answered with a gold quote, an out-of-scope one
    abstained on, each question counting once (the tuning objective)."""
    right = metrics["answer_accuracy"] * metrics["in_scope"] + metrics["abstention"] * metrics["out_of_scope"]
    return right / (metrics["in_scope"] + metrics["out_of_scope"])


def rate_intervals(metrics: Mapping[str, float], confidence: float = 0.95) -> dict[str, tuple[float, float]]:
    """Wilson score intervals for the answer rates: on a few dozen questions a rate is only known to within about
    ±0.1, so one question more or less is no evidence of a better setting."""
    from scipy.stats import binomtest

    over = {"answer_accuracy": "in_scope", "answered": "in_scope", "abstention_near_miss": "near_miss",
            "abstention_off_topic": "off_topic"}
    intervals = {}
    for rate, count in over.items():
        n = int(metrics[count])
        if n:
            low, high = binomtest(round(metrics[rate] * n), n).proportion_ci(confidence, method="wilson")
            intervals[rate] = (round(float(low), 3), round(float(high), 3))
    return intervals


def pool_metrics(parts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """:func:`answer_metrics` over several collections as if over one: each question counts once, so a small
    collection weighs as many questions as it has."""
    if len(parts) == 1:
        return dict(parts[0])

    def total(key: str) -> float:
        return sum(p[key] for p in parts)

    def rate(key: str, over: str) -> float:
        return sum(p[key] * p[over] for p in parts) / total(over) if total(over) else 0.0

    pooled = {"answer_accuracy": rate("answer_accuracy", "in_scope"), "answered": rate("answered", "in_scope"),
              "abstention": rate("abstention", "out_of_scope"),
              "abstention_near_miss": rate("abstention_near_miss", "near_miss"),
              "abstention_off_topic": rate("abstention_off_topic", "off_topic")}
    return {**pooled, **{key: int(total(key)) for key in ("in_scope", "out_of_scope", "near_miss", "off_topic")}}


def _searched(collections: Sequence[Collection], k: int) -> list[tuple[Engine, Sequence[EvalQuestion], dict[str, list[Candidate]]]]:
    """Each collection's questions searched once, with their candidate sentences, for every setting to reuse."""
    return [(engine, questions, {q.id: candidate_sentences(engine, q.question, engine.search(q.question, k=k))
                                 for q in questions}) for engine, questions in collections if questions]


def _pooled(searched: Sequence[tuple[Engine, Sequence[EvalQuestion], dict[str, list[Candidate]]]],
            config: AnswerConfig) -> dict[str, float]:
    return pool_metrics([answer_metrics(engine, questions, config, candidates)
                         for engine, questions, candidates in searched])


def handled_share(engine: Engine, questions: Sequence[EvalQuestion], k: int = 5,
                  also: Sequence[Collection] = ()) -> Callable[[AnswerConfig], float]:
    """A setting's share of ``questions`` (and of ``also``'s) handled right, with the questions searched once."""
    searched = _searched([(engine, questions), *also], k)
    return lambda config: _handled(_pooled(searched, config))


def tune_answers(engine: Engine, questions: Sequence[EvalQuestion], k: int = 5,
                 also: Sequence[Collection] = ()) -> list[dict[str, Any]]:
    """Grid over sentence-scoring weights and the abstention threshold on (training) questions, and on those
    of ``also`` (other archives' questions over their own indexes), pooled.

    Objective: the share of all questions handled right (an in-scope question answered with a
    gold quote, an out-of-scope one abstained on), each question counting once. Weighting the
    two rates equally instead let five out-of-scope training questions outvote 28 in-scope ones.
    """
    searched = _searched([(engine, questions), *also], k)
    rows = []
    weights = [w for w in itertools.product((0.0, 0.2, 0.4, 0.6, 0.8, 1.0), repeat=4) if 0.99 < sum(w) < 1.01
               and (w[0] + w[1] + w[3]) > 0]
    for (dense, lexical, rank, context), threshold, cutoff, short in itertools.product(
            weights, (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5), (0.8, 0.9), (0, 6, 10, 14)):
        config = replace(AnswerConfig(), dense_weight=dense, lexical_weight=lexical, rank_weight=rank,
                         context_weight=context, min_evidence=threshold, relative_cutoff=cutoff,
                         short_sentence_words=short)
        metrics = _pooled(searched, config)
        rows.append({"config": asdict(config), "objective": _handled(metrics), **metrics})
    return sorted(rows, key=lambda r: (-r["objective"], -r["answer_accuracy"], r["config"]["min_evidence"]))


def choose_answer_config(rows: Sequence[dict[str, Any]],
                         overall: Callable[[AnswerConfig], float] | None = None) -> AnswerConfig:
    """Among the best-scoring settings, the one whose weights stay best over the widest range of
    thresholds, at the middle of that range: the largest margin either side, not an edge that a
    small training set happened to allow.

    With ``overall`` (a setting's objective over all training questions, near-misses included), ties are
    first narrowed to those it scores best: sentence scoring that answers the same answerable questions can
    still choose sentences that the evidence checks see through more or less often.
    """
    best = rows[0]["objective"]
    tied = [row for row in rows if row["objective"] >= best - 1e-12]
    if overall is not None:
        scores = [overall(AnswerConfig(**row["config"])) for row in tied]
        tied = [row for row, score in zip(tied, scores) if score >= max(scores) - 1e-12]
    plateaus: dict[tuple, list[float]] = {}
    for row in tied:
        c = row["config"]
        key = (c["dense_weight"], c["lexical_weight"], c["rank_weight"], c["context_weight"], c["relative_cutoff"],
               c["short_sentence_words"])
        plateaus.setdefault(key, []).append(c["min_evidence"])
    key, thresholds = max(plateaus.items(), key=lambda kv: (len(kv[1]), kv[0]))
    thresholds.sort()
    return replace(AnswerConfig(), dense_weight=key[0], lexical_weight=key[1], rank_weight=key[2],
                   context_weight=key[3], relative_cutoff=key[4], short_sentence_words=key[5],
                   min_evidence=thresholds[len(thresholds) // 2])


def tune_evidence(engine: Engine, questions: Sequence[EvalQuestion], base: AnswerConfig, k: int = 5,
                  also: Sequence[Collection] = ()) -> tuple[AnswerConfig, list[dict[str, Any]]]:
    """Grid over the evidence checks (qa/search/evidence.py) with ``base``'s sentence scoring, on (training)
    questions, and on those of ``also``, pooled.

    Same objective as :func:`tune_answers`: the share of questions handled right. Ties go to the setting
    that abstains on more near-miss questions, then to the grid's order (the word similarity from strict to
    lenient): a confident wrong sentence is what costs the user's trust, while an abstention still shows the
    closest passages.
    """
    searched = _searched([(engine, questions), *also], k)
    rows = []
    for scope, coverage, kind, window, similarity, question_coverage, margin, countries in itertools.product(
            ("off", "document", "passage", "paragraph", "sentences"), (0.5, 0.67, 0.75, 1.0), (False, True),
            (0, 2, 3, 5), (0.7, 0.6, 0.5, 1.01), (0.0, 0.2, 0.3), (0.0, 0.01, 0.02, 0.03, 0.04, 0.05), (True, False)):
        if (scope == "off" and coverage != 1.0) or (not kind and window) or (not window and similarity < 1):
            continue  # what a count counts only matters with the answer-kind check on
        if countries is False and scope == "off" and not window:
            continue  # country forms only act through the term and count checks
        config = replace(base, specific_terms=scope, min_term_coverage=coverage, check_answer_kind=kind,
                         counted_word_window=window, counted_word_similarity=similarity,
                         min_question_coverage=question_coverage, unknown_word_margin=margin, country_forms=countries)
        metrics = _pooled(searched, config)
        rows.append({"config": asdict(config), "objective": _handled(metrics), **metrics})
    rows.sort(key=lambda r: (-r["objective"], -r["abstention_near_miss"]))
    return AnswerConfig(**rows[0]["config"]), rows
