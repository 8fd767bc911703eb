"""Learning-rate schedules: the rate at chosen steps equals each schedule's formula, and state
round-trips through JSON. (A training run following its schedule: tests/training/test_trainer.py
and test_resume.py.)"""
import json
import math

import pytest

from seqkit.optim.schedules import Schedule


def test_constant_and_step_schedules():
    constant = Schedule("constant", lr=0.3)
    assert constant.lr_at(0) == constant.lr_at(10 ** 6) == 0.3
    assert constant.observe_validation(9.0) is False and constant.observe_validation(10.0) is False
    step = Schedule("step", lr=1.0, decay=0.5, every=10)
    assert ([step.lr_at(s) for s in (0, 9, 10, 19, 20, 25, 39, 40)]
            == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.0625])
    assert step.observe_validation(1.0) is False and step.observe_validation(2.0) is False


def test_plateau_decays_only_after_more_than_patience_evaluations_without_improvement():
    schedule = Schedule("plateau", lr=1.0, decay=0.1, patience=2)
    assert [schedule.observe_validation(v) for v in (5.0, 4.0, 3.0, 2.9)] == [False] * 4
    assert schedule.lr_at(50) == 1.0
    assert [schedule.observe_validation(v) for v in (2.9, 3.5, 3.0)] == [False, False, True]
    assert schedule.lr_at(60) == pytest.approx(0.1)
    assert [schedule.observe_validation(v) for v in (math.nan, 2.95)] == [False, False]
    assert schedule.observe_validation(2.0) is False and schedule.lr_at(0) == pytest.approx(0.1)
    impatient = Schedule("plateau", lr=1.0, decay=0.5, patience=0)
    assert [impatient.observe_validation(v) for v in (3.0, 3.0, 3.0, 2.0)] == [False, True, True, False]
    assert impatient.lr_at(0) == 0.25


def test_schedule_state_round_trips_through_json():
    schedule = Schedule("plateau", lr=0.02, decay=0.5, patience=1)
    for v in (3.0, 2.0, 2.5):
        schedule.observe_validation(v)
    restored = Schedule("plateau", lr=0.02, decay=0.5, patience=1)
    restored.load_state_dict(json.loads(json.dumps(schedule.state_dict())))
    assert restored.state_dict() == schedule.state_dict()
    assert [restored.observe_validation(v) for v in (2.6, 2.7, 2.8)] == \
           [schedule.observe_validation(v) for v in (2.6, 2.7, 2.8)] == [True, False, True]
    assert restored.lr_at(0) == schedule.lr_at(0) == 0.005
    with pytest.raises(ValueError, match="schedule state is for 'plateau', not 'step'"):
        Schedule("step", lr=0.1, every=5).load_state_dict(schedule.state_dict())


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="unknown schedule 'linear': expected one of constant, step, epoch, plateau, "
                                         "cosine"):
        Schedule("linear")
    with pytest.raises(ValueError, match=r"the floor must be in \[0, 1\], got 1.5"):
        Schedule("cosine", floor=1.5)
    with pytest.raises(ValueError, match="warmup must be zero or positive, got -1"):
        Schedule("cosine", warmup=-1)
    with pytest.raises(ValueError, match="needs a positive number of steps"):
        Schedule("step", lr=0.1, decay=0.5, every=0)
    for decay in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"the decay factor must be in \(0, 1\]"):
            Schedule("plateau", lr=0.1, decay=decay)


def test_cosine_goes_from_lr_to_the_floor_along_half_a_cosine():
    cosine = Schedule("cosine", lr=0.02, floor=0.1)
    for progress in (0.0, 0.25, 0.5, 0.9, 1.0):
        expected = 0.02 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        assert cosine.lr_at(123, 4, progress) == pytest.approx(expected, rel=1e-15)
    assert cosine.lr_at(0, 0, 0.0) == 0.02 and cosine.lr_at(9, 0, 1.0) == pytest.approx(0.002)
    assert cosine.lr_at(9, 0, 1.7) == cosine.lr_at(9, 0, 1.0)  # never below the floor


def test_epoch_schedule_keeps_the_rate_then_decays_each_epoch():
    """Zaremba et al. 2014, small model: lr 1 for 4 epochs, then halved after each epoch."""
    zaremba = Schedule("epoch", lr=1.0, decay=0.5, after=4)
    assert [zaremba.lr_at(0, epoch) for epoch in range(7)] == [1, 1, 1, 1, 0.5, 0.25, 0.125]


def test_warmup_rises_linearly_then_hands_over_to_the_schedule():
    warm = Schedule("cosine", lr=1.0, floor=0.0, warmup=4)
    assert [warm.lr_at(step, 0, 0.0) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warm.lr_at(4, 0, 0.5) == pytest.approx(0.5)
    step = Schedule("step", lr=1.0, decay=0.5, every=2, warmup=2)
    assert [step.lr_at(s) for s in range(5)] == [0.5, 1.0, 0.5, 0.5, 0.25]


def test_newer_options_are_kept_in_the_state_only_when_set():
    """A schedule with 0.1.0's options writes 0.1.0's state (checkpoint bytes stay the same);
    one with warm-up, a floor or an epoch delay keeps them, and loads them back."""
    assert set(Schedule("constant", lr=0.1).state_dict()) == {
        "kind", "initial_lr", "decay", "every", "patience", "lr", "best", "bad_evals"}
    state = Schedule("cosine", lr=0.1, warmup=5, floor=0.2).state_dict()
    assert state["warmup"] == 5 and state["floor"] == 0.2 and "after" not in state
    restored = Schedule("cosine", lr=0.1)
    restored.load_state_dict(json.loads(json.dumps(state)))
    assert restored.lr_at(2, 0, 0.0) == pytest.approx(0.1 * 3 / 5) and restored.lr_at(9, 0, 1.0) == pytest.approx(0.02)

