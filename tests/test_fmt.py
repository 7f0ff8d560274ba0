"""Shared formatting (resrepro.fmt): counts with the right singular or plural."""

from resrepro import fmt


def test_a_count_is_singular_for_one_and_plural_otherwise():
    assert fmt.count(1, "seed") == "1 seed" and fmt.count(3, "seed") == "3 seeds"
    assert fmt.count(0, "epoch") == "0 epochs" and fmt.count(45000, "image") == "45,000 images"
    assert fmt.count(2, "analysis", "analyses") == "2 analyses" and fmt.count(1, "analysis", "analyses") == "1 analysis"
