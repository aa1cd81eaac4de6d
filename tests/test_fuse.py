import pytest

from qa.search.fuse import min_max_normalize, reciprocal_rank_fusion, weighted_fusion


def test_rrf_sums_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["d"] == pytest.approx(1 / 62)


def test_rrf_ties_are_broken_by_key():
    assert [key for key, _ in reciprocal_rank_fusion([["b", "a"], ["a", "b"]])] == ["a", "b"]


def test_rrf_weights_and_validation():
    fused = dict(reciprocal_rank_fusion([["a"], ["b"]], k=0, weights=[2.0, 1.0]))
    assert fused == {"a": 2.0, "b": 1.0}
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


def test_min_max_never_divides_by_zero():
    assert min_max_normalize({"a": 3.0, "b": 3.0}) == {"a": 1.0, "b": 1.0}
    assert min_max_normalize({}) == {}
    assert min_max_normalize({"a": 1.0, "b": 3.0, "c": 2.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}


def test_weighted_fusion_combines_normalised_scores():
    fused = weighted_fusion([{"a": 10.0, "b": 0.0}, {"b": 0.9, "c": 0.1}], [0.5, 0.5])
    assert fused == [("a", 0.5), ("b", 0.5), ("c", 0.0)]  # equal scores in key order


def test_rrf_default_k_is_the_customary_60():
    assert dict(reciprocal_rank_fusion([["a"]]))["a"] == pytest.approx(1 / 61)


def test_fusion_errors_name_the_problem():
    with pytest.raises(ValueError, match="rrf k of -1 must be zero or more"):
        reciprocal_rank_fusion([["a"]], k=-1)
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="1 weights for 2 score lists"):
        weighted_fusion([{"a": 1.0}, {"b": 1.0}], [1.0])


def test_weighted_fusion_adds_an_item_s_scores_across_lists_and_orders_by_score_then_key():
    fused = weighted_fusion([{"a": 0.0, "b": 1.0, "c": 0.5}, {"b": 1.0, "c": 0.0, "a": 0.5}], [0.5, 0.5])
    assert fused == [("b", 1.0), ("a", 0.25), ("c", 0.25)]
    assert [k for k, _ in weighted_fusion([{"z": 2.0, "y": 1.0}], [1.0])] == ["z", "y"]
