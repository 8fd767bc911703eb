"""Update rules against step-by-step references written from torch.optim's documented
algorithms; state that resumes exactly; clipping; schedules."""
import json

import numpy as np
import pytest

from seqkit.optim import OPTIMIZERS, Schedule, clip_global_norm, clip_value, global_norm, make_optimizer

HYPER = dict(momentum=0.8, alpha=0.9, beta1=0.85, beta2=0.99, eps=1e-6)


def reference_updates(name, p, grads, lr, wd):
    """torch.optim's pseudo-code, one parameter, float64, written out plainly."""
    p = p.copy()
    buf = s = m = v = None
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        if name == "sgd":
            p = p - lr * g
        elif name in ("momentum", "nesterov"):
            buf = g.copy() if buf is None else HYPER["momentum"] * buf + g
            p = p - lr * (g + HYPER["momentum"] * buf if name == "nesterov" else buf)
        elif name == "adagrad":
            s = g * g if s is None else s + g * g
            p = p - lr * g / (np.sqrt(s) + HYPER["eps"])
        elif name == "rmsprop":
            v = (1 - HYPER["alpha"]) * g * g if v is None else HYPER["alpha"] * v + (1 - HYPER["alpha"]) * g * g
            p = p - lr * g / (np.sqrt(v) + HYPER["eps"])
        else:
            m = (1 - HYPER["beta1"]) * g if m is None else HYPER["beta1"] * m + (1 - HYPER["beta1"]) * g
            v = (1 - HYPER["beta2"]) * g * g if v is None else HYPER["beta2"] * v + (1 - HYPER["beta2"]) * g * g
            m_hat, v_hat = m / (1 - HYPER["beta1"] ** t), v / (1 - HYPER["beta2"] ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + HYPER["eps"])
    return p


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_matches_the_documented_algorithm(name, weight_decay):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    params = {"w": start.copy()}
    optimizer = make_optimizer(name, params, 0.05, weight_decay, **HYPER)
    for g in grads:
        kept = g.copy()
        optimizer.step({"w": g})
        np.testing.assert_array_equal(g, kept)  # the caller's gradients are left alone
    np.testing.assert_allclose(params["w"], reference_updates(name, start, grads, 0.05, weight_decay),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_stays_float32_in_place(name):
    params = {"w": np.ones(5, np.float32)}
    array = params["w"]
    optimizer = make_optimizer(name, params, 0.1)
    optimizer.step({"w": np.full(5, 0.5, np.float32)})
    assert params["w"] is array and array.dtype == np.float32 and not np.all(array == 1)
    assert all(a.dtype == np.float32 for a in optimizer.state_dict()[0].values())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_saved_state_resumes_exactly(name):
    rng = np.random.default_rng(1)
    grads = [{"w": rng.standard_normal(6)} for _ in range(6)]
    whole = {"w": np.zeros(6)}
    reference = make_optimizer(name, whole, 0.1, 0.01)
    for g in grads:
        reference.step(g)
    first = {"w": np.zeros(6)}
    optimizer = make_optimizer(name, first, 0.1, 0.01)
    for g in grads[:3]:
        optimizer.step(g)
    arrays, scalars = optimizer.state_dict()
    resumed = {"w": first["w"].copy()}
    again = make_optimizer(name, resumed, 0.1, 0.01)
    again.load_state_dict({k: v.copy() for k, v in arrays.items()}, json.loads(json.dumps(scalars)))
    for g in grads[3:]:
        again.step(g)
    np.testing.assert_array_equal(resumed["w"], whole["w"])


def test_adam_first_step_moves_by_lr_times_sign():
    params = {"w": np.zeros(4)}
    make_optimizer("adam", params, 0.01).step({"w": np.array([3.0, -0.2, 1e-3, -50.0])})
    np.testing.assert_allclose(params["w"], [-0.01, 0.01, -0.01, 0.01], rtol=1e-4)


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("momentum", 0.05), ("nesterov", 0.05),
                                      ("adagrad", 0.5), ("rmsprop", 0.03), ("adam", 0.05)])
def test_each_optimizer_minimises_a_quadratic(name, lr):
    scales = np.array([1.0, 3.0, 0.5])
    params = {"w": np.array([2.0, -1.5, 3.0])}
    optimizer = make_optimizer(name, params, lr)
    loss = lambda w: 0.5 * np.sum(scales * w * w)
    before = loss(params["w"])
    for _ in range(300):
        optimizer.step({"w": scales * params["w"]})
    assert loss(params["w"]) < before * 1e-3


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'adamw': expected one of sgd, momentum"):
        make_optimizer("adamw", {}, 0.1)
    with pytest.raises(ValueError, match="the learning rate must be positive"):
        make_optimizer("sgd", {}, 0.0)
    with pytest.raises(ValueError, match="optimizer state is for 'sgd', not 'adam'"):
        make_optimizer("adam", {}, 0.1).load_state_dict({}, make_optimizer("sgd", {}, 0.1).state_dict()[1])


def test_clip_global_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]], np.float32)}
    assert clip_global_norm(grads, 1.0) == pytest.approx(5.0)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])
    assert grads["b"].dtype == np.float32
    small = {"a": np.array([0.3, 0.4])}
    assert clip_global_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])
    broken = {"a": np.array([np.nan, 1.0])}
    assert np.isnan(clip_global_norm(broken, 1.0)) and broken["a"][1] == 1.0


def test_clip_value():
    grads = {"a": np.array([-3.0, 0.5, 2.0])}
    clip_value(grads, 1.0)
    np.testing.assert_array_equal(grads["a"], [-1.0, 0.5, 1.0])


def test_step_schedule():
    schedule = Schedule("step", lr=1.0, decay=0.5, every=10)
    assert [schedule.lr_at_step(s) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]


def test_plateau_schedule_decays_only_after_patience():
    schedule = Schedule("plateau", lr=1.0, decay=0.1, patience=1)
    assert [schedule.observe_validation(v) for v in (3.0, 2.0, 2.5, 2.4)] == [False, False, False, True]
    assert schedule.lr_at_step(100) == pytest.approx(0.1)
    assert not schedule.observe_validation(1.0) and schedule.lr_at_step(0) == pytest.approx(0.1)
    restored = Schedule("plateau", lr=1.0, decay=0.1, patience=1)
    restored.load_state_dict(json.loads(json.dumps(schedule.state_dict())))
    assert restored.state_dict() == schedule.state_dict()
    assert Schedule("constant", lr=0.3).observe_validation(9.0) is False
