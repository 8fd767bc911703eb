"""Optimizers against references written from torch.optim's documented pseudo-code, exact
resumption from saved state, clipping by global norm and by value. (Schedules: test_schedules.py.)"""
import json
import math

import numpy as np
import pytest

from seqkit.optim.optimizers import OPTIMIZERS, clip_global_norm, clip_value, global_norm, make_optimizer

HYPER = dict(momentum=0.8, alpha=0.9, beta1=0.85, beta2=0.99, eps=1e-6)


# --- references: one parameter, float64, the documentation's loops written out ----------------
def torch_sgd(theta, grads, lr, wd, mu=0.0, nesterov=False):
    b = None
    for t, g in enumerate(grads, start=1):
        if wd != 0:
            g = g + wd * theta
        if mu != 0:
            b = mu * b + g if t > 1 else g
            g = g + mu * b if nesterov else b
        theta = theta - lr * g
    return theta


def torch_adagrad(theta, grads, lr, wd, eps):
    state_sum = np.zeros_like(theta)
    for g in grads:
        if wd != 0:
            g = g + wd * theta
        state_sum = state_sum + g ** 2
        theta = theta - lr * g / (np.sqrt(state_sum) + eps)
    return theta


def torch_rmsprop(theta, grads, lr, wd, alpha, eps):
    v = np.zeros_like(theta)
    for g in grads:
        if wd != 0:
            g = g + wd * theta
        v = alpha * v + (1 - alpha) * g ** 2
        theta = theta - lr * g / (np.sqrt(v) + eps)
    return theta


def torch_adam(theta, grads, lr, wd, beta1, beta2, eps):
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if wd != 0:
            g = g + wd * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def reference(name, theta, grads, lr, wd):
    h = HYPER
    return {"sgd": lambda: torch_sgd(theta, grads, lr, wd),
            "momentum": lambda: torch_sgd(theta, grads, lr, wd, h["momentum"]),
            "nesterov": lambda: torch_sgd(theta, grads, lr, wd, h["momentum"], nesterov=True),
            "adagrad": lambda: torch_adagrad(theta, grads, lr, wd, h["eps"]),
            "rmsprop": lambda: torch_rmsprop(theta, grads, lr, wd, h["alpha"], h["eps"]),
            "adam": lambda: torch_adam(theta, grads, lr, wd, h["beta1"], h["beta2"], h["eps"])}[name]()


def problem(seed, dtype=np.float64, steps=5):
    """Two parameters of different shapes and a gradient sequence for each."""
    rng = np.random.default_rng(seed)
    start = {"rnn.weight_hh_l0": rng.standard_normal((3, 4)), "output.bias": rng.standard_normal(5)}
    grads = [{k: rng.standard_normal(v.shape).astype(dtype) for k, v in start.items()} for _ in range(steps)]
    return {k: v.astype(dtype) for k, v in start.items()}, grads


# --- update rules ------------------------------------------------------------------------------
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_matches_the_documented_algorithm(name, weight_decay):
    start, grads = problem(0)
    params = {k: v.copy() for k, v in start.items()}
    optimizer = make_optimizer(name, params, 0.05, weight_decay, **HYPER)
    for g in grads:
        kept = {k: v.copy() for k, v in g.items()}
        optimizer.step(g)
        for k in g:
            np.testing.assert_array_equal(g[k], kept[k])  # the caller's gradients are left alone
    for k in start:
        expected = reference(name, start[k], [g[k] for g in grads], 0.05, weight_decay)
        np.testing.assert_allclose(params[k], expected, rtol=1e-12, atol=1e-15)
        assert not np.allclose(params[k], start[k])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_parameters_stay_float32_and_in_place(name):
    start, grads = problem(1, np.float32)
    params = {k: v.copy() for k, v in start.items()}
    arrays = dict(params)
    optimizer = make_optimizer(name, params, 0.05, 0.1, **HYPER)
    for g in grads:
        optimizer.step(g)
    for k in start:
        assert params[k] is arrays[k] and params[k].dtype == np.float32
        expected = reference(name, start[k].astype(np.float64), [g[k].astype(np.float64) for g in grads],
                             0.05, 0.1)
        np.testing.assert_allclose(params[k], expected, rtol=2e-5, atol=2e-6)
    assert all(a.dtype == np.float32 for a in optimizer.state_dict()[0].values())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_saved_state_resumes_exactly(name):
    start, grads = problem(2, np.float32, steps=6)
    whole = {k: v.copy() for k, v in start.items()}
    uninterrupted = make_optimizer(name, whole, 0.05, 0.01, **HYPER)
    for g in grads:
        uninterrupted.step(g)

    first = {k: v.copy() for k, v in start.items()}
    optimizer = make_optimizer(name, first, 0.05, 0.01, **HYPER)
    for g in grads[:3]:
        optimizer.step(g)
    arrays, scalars = optimizer.state_dict()
    resumed = {k: v.copy() for k, v in first.items()}
    again = make_optimizer(name, resumed, 0.05, 0.01, **HYPER)
    again.load_state_dict({k: v.copy() for k, v in arrays.items()}, json.loads(json.dumps(scalars)))
    for g in grads[3:]:
        again.step(g)
    for k in start:
        assert np.array_equal(resumed[k], whole[k])
    final, expected = again.state_dict(), uninterrupted.state_dict()
    assert final[1] == expected[1] and final[1]["steps"] == 6
    assert all(np.array_equal(final[0][k], expected[0][k]) for k in expected[0])


def test_state_is_named_by_slot_and_parameter_and_is_a_snapshot():
    start, grads = problem(3)
    assert make_optimizer("sgd", dict(start), 0.1).state_dict()[0] == {}
    assert set(make_optimizer("nesterov", dict(start), 0.1).state_dict()[0]) == {
        "momentum_buffer.rnn.weight_hh_l0", "momentum_buffer.output.bias"}
    adam = make_optimizer("adam", {k: v.copy() for k, v in start.items()}, 0.1)
    adam.step(grads[0])
    arrays, scalars = adam.state_dict()
    assert set(arrays) == {"exp_avg.rnn.weight_hh_l0", "exp_avg.output.bias",
                           "exp_avg_sq.rnn.weight_hh_l0", "exp_avg_sq.output.bias"}
    assert scalars == {"name": "adam", "lr": 0.1, "weight_decay": 0.0, "steps": 1,
                       "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    saved = arrays["exp_avg.output.bias"].copy()
    adam.step(grads[1])
    np.testing.assert_array_equal(arrays["exp_avg.output.bias"], saved)


def test_loading_mismatched_state_is_refused_and_changes_nothing():
    start, grads = problem(4)
    adam = make_optimizer("adam", {k: v.copy() for k, v in start.items()}, 0.1)
    adam.step(grads[0])
    arrays, scalars = adam.state_dict()
    fresh = make_optimizer("adam", {k: v.copy() for k, v in start.items()}, 0.1)
    bad = dict(arrays, **{"exp_avg.output.bias": np.zeros(6)})
    with pytest.raises(ValueError, match=r"exp_avg\.output\.bias is float64 \(6,\), expected float64 \(5,\)"):
        fresh.load_state_dict(bad, scalars)
    with pytest.raises(ValueError, match=r"missing \['exp_avg_sq\.output\.bias'\]"):
        fresh.load_state_dict({k: v for k, v in arrays.items() if k != "exp_avg_sq.output.bias"}, scalars)
    with pytest.raises(ValueError, match="optimizer state is for 'sgd', not 'adam'"):
        fresh.load_state_dict({}, make_optimizer("sgd", {}, 0.1).state_dict()[1])
    with pytest.raises(ValueError, match=r"missing \['beta2'\]"):
        fresh.load_state_dict(arrays, {k: v for k, v in scalars.items() if k != "beta2"})
    assert fresh.steps == 0 and not any(a.any() for a in fresh.state_dict()[0].values())


def test_step_refuses_gradients_that_do_not_match():
    start, grads = problem(5)
    params = {k: v.copy() for k, v in start.items()}
    optimizer = make_optimizer("momentum", params, 0.1)
    with pytest.raises(ValueError, match=r"missing \['output\.bias'\]"):
        optimizer.step({"rnn.weight_hh_l0": grads[0]["rnn.weight_hh_l0"]})
    with pytest.raises(ValueError, match=r"gradient output\.bias has shape \(1, 5\), expected \(5,\)"):
        optimizer.step(dict(grads[0], **{"output.bias": grads[0]["output.bias"][None]}))
    assert optimizer.steps == 0 and all(np.array_equal(params[k], start[k]) for k in start)


def test_a_changed_learning_rate_applies_to_the_next_step():
    params = {"w": np.zeros(3)}
    optimizer = make_optimizer("sgd", params, 0.1)
    optimizer.lr = 0.5
    optimizer.step({"w": np.array([1.0, -2.0, 4.0])})
    np.testing.assert_array_equal(params["w"], [-0.5, 1.0, -2.0])


def test_adam_first_step_moves_each_parameter_by_lr_times_sign():
    params = {"w": np.zeros(5)}
    make_optimizer("adam", params, 0.01).step({"w": np.array([3.0, -0.2, 1e-3, -50.0, 7e-5])})
    np.testing.assert_allclose(params["w"], [-0.01, 0.01, -0.01, 0.01, -0.01], rtol=1e-3)


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("momentum", 0.05), ("nesterov", 0.05),
                                      ("adagrad", 0.5), ("rmsprop", 0.03), ("adam", 0.05)])
def test_each_optimizer_minimises_a_convex_quadratic(name, lr):
    scales = np.array([1.0, 3.0, 0.5, 2.0])
    params = {"w": np.array([2.0, -1.5, 3.0, 1.0])}
    loss = lambda w: 0.5 * np.sum(scales * w * w)
    before = loss(params["w"])
    optimizer = make_optimizer(name, params, lr)
    for _ in range(300):
        optimizer.step({"w": scales * params["w"]})
    assert loss(params["w"]) < before * 1e-3


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'adamw': expected one of "
                                         "sgd, momentum, nesterov, adagrad, rmsprop, adam"):
        make_optimizer("adamw", {}, 0.1)
    for lr in (0.0, -0.1, math.nan):
        with pytest.raises(ValueError, match="the learning rate must be positive"):
            make_optimizer("sgd", {}, lr)
    with pytest.raises(ValueError, match="weight decay must be zero or positive"):
        make_optimizer("adam", {}, 0.1, -1e-4)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\) for adam, got 1.0"):
        make_optimizer("adam", {}, 0.1, beta2=1.0)
    with pytest.raises(ValueError, match="nesterov needs a positive momentum"):
        make_optimizer("nesterov", {}, 0.1, momentum=0.0)
    with pytest.raises(ValueError, match="parameter w must be a writeable C-contiguous float32 or float64"):
        make_optimizer("sgd", {"w": np.zeros((3, 4)).T}, 0.1)


# --- clipping ----------------------------------------------------------------------------------
def test_global_norm_accumulates_in_float64():
    rng = np.random.default_rng(6)
    grads = {"a": rng.standard_normal((300, 400)).astype(np.float32),
             "b": rng.standard_normal(777).astype(np.float32)}
    exact = math.sqrt(math.fsum(float(x) ** 2 for g in grads.values() for x in g.ravel().tolist()))
    assert global_norm(grads) == pytest.approx(exact, rel=1e-12)


def test_clip_global_norm_scales_to_exactly_max_norm():
    rng = np.random.default_rng(7)
    grads = {"a": rng.standard_normal((20, 30)).astype(np.float32), "b": rng.standard_normal(50)}
    before = {k: v.copy() for k, v in grads.items()}
    norm = global_norm(grads)
    assert clip_global_norm(grads, 1.5) == norm and norm > 10
    assert global_norm(grads) == pytest.approx(1.5, rel=1e-6)
    assert grads["a"].dtype == np.float32
    for k in grads:  # the direction is kept: every element is scaled by the same factor
        np.testing.assert_allclose(grads[k], before[k] * (1.5 / norm), rtol=1e-6)


def test_clip_global_norm_leaves_small_gradients_alone():
    small = {"a": np.array([0.3, 0.4]), "b": np.zeros((2, 2), np.float32)}
    assert clip_global_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_global_norm_leaves_non_finite_gradients_untouched(bad):
    grads = {"a": np.array([bad, 100.0]), "b": np.array([50.0])}
    norm = clip_global_norm(grads, 1.0)
    assert (math.isnan(norm) if math.isnan(bad) else norm == math.inf)
    np.testing.assert_array_equal(grads["a"], [bad, 100.0])
    np.testing.assert_array_equal(grads["b"], [50.0])


def test_clip_value_bounds_every_element_in_place():
    grads = {"a": np.array([-3.0, 0.5, 2.0, -0.25]),
             "b": np.linspace(-5, 5, 12, dtype=np.float32).reshape(3, 4)}
    b = grads["b"]
    clip_value(grads, 1.0)
    np.testing.assert_array_equal(grads["a"], [-1.0, 0.5, 1.0, -0.25])
    assert grads["b"] is b and b.dtype == np.float32 and b.min() == -1 and b.max() == 1
    with pytest.raises(ValueError, match="the clipping value must be positive"):
        clip_value(grads, 0.0)
