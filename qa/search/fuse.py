"""Hybrid fusion of ranked lists: pure functions with deterministic tie-breaks."""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence, TypeVar

__all__ = ["reciprocal_rank_fusion", "weighted_fusion", "min_max_normalize"]

Key = TypeVar("Key", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Key]], k: int = 60,
                           weights: Sequence[float] | None = None) -> list[tuple[Key, float]]:
    """Cormack et al.'s RRF: each list adds ``weight / (k + rank)`` for the items it ranks (rank from 1).

    Returns:
        (item, score) pairs, best first; equal scores are ordered by item.
    """
    if k < 0:
        raise ValueError(f"rrf k of {k} must be zero or more")
    weights = weights if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    fused: dict[Key, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def min_max_normalize(scores: Mapping[Key, float]) -> dict[Key, float]:
    """Scale to [0, 1]; when every score is equal (or there is one) each becomes 1.0, never a division by zero."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 0:
        return {key: 1.0 for key in scores}
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def weighted_fusion(score_maps: Sequence[Mapping[Key, float]], weights: Sequence[float]) -> list[tuple[Key, float]]:
    """Sum of min-max normalised scores times their weights; an item a list lacks counts 0 there."""
    if len(weights) != len(score_maps):
        raise ValueError(f"{len(weights)} weights for {len(score_maps)} score lists")
    fused: dict[Key, float] = {}
    for scores, weight in zip(score_maps, weights):
        for item, value in min_max_normalize(scores).items():
            fused[item] = fused.get(item, 0.0) + weight * value
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
