import numpy as np

from models.evaluation import expected_calibration_error
from models.routing import choose_threshold


def test_threshold_meets_target_precision_on_heldout():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 5000)
    correct = rng.uniform(0, 1, 5000) < conf  # calibrated by construction
    choice = choose_threshold(conf[:2500], correct[:2500], target_precision=0.95)
    assert choice.met and 0.7 < choice.threshold < 1.0
    held = conf[2500:] >= choice.threshold
    assert correct[2500:][held].mean() >= 0.93  # holds on data the threshold was not chosen on
    assert choice.coverage > 0.05


def test_unreachable_target_sends_everything_to_review():
    conf = np.linspace(0.5, 1.0, 100)
    correct = np.zeros(100, dtype=bool)
    choice = choose_threshold(conf, correct, 0.99)
    assert choice.threshold > 1.0 and choice.coverage == 0.0


def test_ties_are_not_split():
    conf = np.array([0.9] * 50 + [0.8] * 50)
    correct = np.array([True] * 49 + [False] + [True] * 50)
    choice = choose_threshold(conf, correct, 0.95)
    assert choice.threshold in (0.9, 0.8)
    assert choice.coverage in (0.5, 1.0)  # a cut never falls inside a group of equal confidence


def test_ece_zero_when_calibrated_and_large_when_overconfident():
    conf = np.full(1000, 0.7)
    correct = np.arange(1000) < 700
    assert expected_calibration_error(conf, correct) < 1e-9
    assert expected_calibration_error(np.full(1000, 0.99), correct) > 0.25
