import numpy as np
import pytest

from resrepro.evaluate import metrics


def test_metrics_on_a_known_confusion_matrix():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    m = metrics(y_true, y_pred, num_classes=3)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision_per_class"] == pytest.approx([1.0, 0.5, 0.5])
    assert m["recall_per_class"] == pytest.approx([2 / 3, 0.5, 1.0])
    f1 = [2 * p * r / (p + r) for p, r in zip([1.0, 0.5, 0.5], [2 / 3, 0.5, 1.0])]
    assert m["f1_per_class"] == pytest.approx(f1)
    assert m["f1_macro"] == pytest.approx(np.mean(f1))


def test_never_predicted_class_counts_as_zero_and_is_flagged():
    m = metrics(np.array([0, 1, 2]), np.array([0, 0, 0]), num_classes=3)
    assert m["precision_per_class"][1:] == [0.0, 0.0]
    assert m["classes_never_predicted"] == [1, 2]
    assert m["precision_macro"] == pytest.approx(1 / 9)


def test_balanced_set_macro_recall_equals_accuracy():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 30)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 10, 300))
    m = metrics(y, p)
    assert m["recall_macro"] == pytest.approx(m["accuracy"])
