"""seqkit.nn, the public blocks: each against its NumPy formula, each backward against central
differences in float64 (max relative error <= 1e-6), their checks, and the blocks chained into
the language model Model is, which must give Model's loss and gradients."""
import numpy as np
import pytest
from gradcheck import max_relative_error, numerical_gradient

from seqkit import GRU, LSTM, Model
from seqkit.nn.layers import Dropout, Embedding, Linear, named, softmax_cross_entropy
from seqkit.optim.optimizers import OPTIMIZERS, clip_global_norm, make_optimizer

TOLERANCE = 1e-6


def assert_gradients(loss, analytic, inputs):
    """Every analytic gradient (a dict) against the central difference of loss() in the array
    of the same name in inputs."""
    for name, grad in analytic.items():
        numeric = numerical_gradient(loss, inputs[name])
        assert max_relative_error(grad, numeric) <= TOLERANCE, name


def numpy_cross_entropy(logits, targets, ignore_index):
    """Mean cross-entropy over the targets that are not ignore_index, and its gradient."""
    rows, targets = logits.reshape(-1, logits.shape[-1]).astype(np.float64), targets.reshape(-1)
    counted = targets != ignore_index
    log_probs = rows - rows.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    n = max(counted.sum(), 1)
    loss = -log_probs[counted, targets[counted]].sum() / n
    grad = np.exp(log_probs)
    grad[np.flatnonzero(counted), targets[counted]] -= 1
    grad[~counted] = 0
    return loss, (grad / n).reshape(logits.shape)


# --- Linear ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("leading", [(), (5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_numpy_and_its_gradients_central_differences(leading, bias):
    rng = np.random.default_rng(0)
    layer = Linear(3, 4, dtype=np.float64, seed=1, bias=bias)
    x, dy = rng.standard_normal((*leading, 3)), rng.standard_normal((*leading, 4))
    w = layer.params["weight"]
    b = layer.params["bias"] if bias else 0.0
    y, cache = layer.forward(x)
    np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-13, atol=1e-14)
    grads, dx = layer.backward(dy, cache)
    assert grads.keys() == layer.params.keys() and dx.shape == x.shape
    rows, drows = x.reshape(-1, 3), dy.reshape(-1, 4)
    np.testing.assert_allclose(grads["weight"], drows.T @ rows, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dx, dy @ w, rtol=1e-13, atol=1e-14)
    if bias:
        np.testing.assert_allclose(grads["bias"], drows.sum(0), rtol=1e-13, atol=1e-14)
    assert_gradients(lambda: np.sum(layer.forward(x)[0] * dy), dict(grads, x=dx), dict(layer.params, x=x))


def test_linear_is_initialised_as_nn_linear_and_by_its_seed():
    layer = Linear(16, 300, seed=3)
    assert layer.params["weight"].shape == (300, 16) and layer.params["bias"].shape == (300,)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    for p in layer.params.values():  # U(-1/4, 1/4), which reaches near both ends
        assert np.abs(p).max() <= 0.25 and np.abs(p).max() > 0.24
    again = Linear(16, 300, seed=3)
    assert all(np.array_equal(again.params[k], p) for k, p in layer.params.items())
    assert "bias" not in Linear(2, 3, bias=False).params


def test_linear_float32_agrees_with_float64():
    rng = np.random.default_rng(1)
    x64 = rng.standard_normal((6, 5))
    layer64, layer32 = Linear(5, 7, dtype=np.float64, seed=0), Linear(5, 7, dtype=np.float32, seed=0)
    layer32.load_state_dict(layer64.params)
    y32, cache = layer32.forward(x64.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, layer64.forward(x64)[0], rtol=1e-5, atol=1e-6)
    grads, dx = layer32.backward(np.ones_like(y32), cache)
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


def test_linear_refuses_what_it_would_otherwise_cast_or_misread():
    layer = Linear(3, 2)  # float32
    with pytest.raises(TypeError, match=r"x has dtype float64 but the parameters are float32: pass x.astype\(np.float32\)"):
        layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"x has shape \(4, 2\), expected \(any, 3\)"):
        layer.forward(np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError, match="must be a numpy array, got list"):
        layer.forward([[0.0, 1.0, 2.0]])
    _, cache = layer.forward(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"dy has shape \(5, 2\), expected \(4, 2\)"):
        layer.backward(np.zeros((5, 2), np.float32), cache)
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Linear(0, 2)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        Linear(2, 2, dtype=np.float16)


def test_load_state_dict_checks_names_and_shapes():
    layer = Linear(3, 2, dtype=np.float64)
    weight, bias = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0])
    layer.load_state_dict({"weight": weight, "bias": bias})
    assert np.array_equal(layer.params["weight"], weight) and np.array_equal(layer.params["bias"], bias)
    with pytest.raises(KeyError, match=r"missing \['bias'\], unexpected \['b'\]"):
        layer.load_state_dict({"weight": weight, "b": bias})
    with pytest.raises(ValueError, match=r"weight has shape \(3, 2\), expected \(2, 3\)"):
        layer.load_state_dict({"weight": weight.T, "bias": bias})


# --- Embedding -------------------------------------------------------------------------------------

def test_embedding_equals_numpy_and_its_gradient_central_differences():
    rng = np.random.default_rng(2)
    layer = Embedding(5, 3, dtype=np.float64, seed=0)
    ids = np.array([[0, 4, 4], [2, 0, 4]], dtype=np.int32)  # repeated ids, any integer type
    x, cache = layer.forward(ids)
    assert np.array_equal(x, layer.params["weight"][ids])
    dx = rng.standard_normal(x.shape)
    grads, none = layer.backward(dx, cache)
    expected = np.zeros((5, 3))
    np.add.at(expected, ids, dx)
    assert none is None and np.allclose(grads["weight"], expected, rtol=1e-14, atol=0)
    assert_gradients(lambda: np.sum(layer.forward(ids)[0] * dx), grads, layer.params)


def test_embedding_is_initialised_from_a_standard_normal_and_checks_ids():
    layer = Embedding(1000, 50, seed=0)
    weight = layer.params["weight"]
    assert weight.shape == (1000, 50) and weight.dtype == np.float32
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02
    assert layer.forward(np.array(7))[0].shape == (50,)  # ids of any shape, a scalar too
    with pytest.raises(ValueError, match=r"ids holds ids outside \[0, 1000\)"):
        layer.forward(np.array([3, 1000]))
    with pytest.raises(ValueError, match=r"ids holds ids outside \[0, 1000\)"):
        layer.forward(np.array([-1]))
    with pytest.raises(TypeError, match="ids must be a numpy integer array, got float64"):
        layer.forward(np.array([1.0]))
    _, cache = layer.forward(np.array([1, 2]))
    with pytest.raises(TypeError, match="dx has dtype float64 but the parameters are float32"):
        layer.backward(np.zeros((2, 50)), cache)


# --- Dropout ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_is_inverted_and_its_backward_applies_the_same_mask(dtype):
    layer = Dropout(0.25, seed=0)
    x = np.ones((200, 100), dtype)
    y, cache = layer.forward(x)
    assert y.dtype == dtype and set(np.unique(y)) == {0, dtype(1 / 0.75)}
    assert abs(np.mean(y == 0) - 0.25) < 0.01 and abs(y.mean() - 1) < 0.02  # the expectation is kept
    _, dx = layer.backward(np.full_like(x, 2), cache)
    assert np.array_equal(dx, 2 * y)
    y2, _ = layer.forward(x)
    assert not np.array_equal(y, y2)  # a fresh mask each call
    same, _ = Dropout(0.25, seed=0).forward(x)
    assert np.array_equal(same, y)  # from the seed


def test_dropout_gradient_central_differences_with_a_fixed_mask():
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    _, cache = Dropout(0.4, seed=7).forward(x)
    grads, dx = Dropout(0.4).backward(dy, cache)
    assert grads == {}
    # A freshly seeded layer draws the same mask each time, which makes the loss a fixed function.
    assert_gradients(lambda: np.sum(Dropout(0.4, seed=7).forward(x)[0] * dy), {"x": dx}, {"x": x})


def test_dropout_off_in_evaluation_and_its_checks():
    layer, x = Dropout(0.5, seed=0), np.ones((3, 2))
    y, cache = layer.forward(x, training=False)
    assert y is x and layer.backward(x, cache)[1] is x
    assert Dropout(0.0).forward(x)[0] is x and Dropout().params == {}
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1.0"):
        Dropout(1.0)
    _, cache = layer.forward(x)
    with pytest.raises(ValueError, match=r"dy has shape \(2, 3\), expected \(3, 2\)"):
        layer.backward(np.ones((2, 3)), cache)
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int64"):
        layer.forward(np.ones(3, np.int64))


# --- softmax_cross_entropy -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_equals_numpy_with_ignored_targets(dtype, rtol, ignore_index):
    rng = np.random.default_rng(4)
    logits = (5 * rng.standard_normal((3, 4, 6))).astype(dtype)  # classes on the last axis
    targets = rng.integers(0, 6, (3, 4))
    targets[0, :2] = ignore_index
    loss, dlogits = softmax_cross_entropy(logits, targets, ignore_index)
    expected_loss, expected_grad = numpy_cross_entropy(logits, targets, ignore_index)
    assert isinstance(loss, float) and loss == pytest.approx(expected_loss, rel=rtol)
    assert dlogits.dtype == dtype and dlogits.shape == logits.shape
    np.testing.assert_allclose(dlogits, expected_grad, rtol=rtol, atol=rtol * 1e-2)
    assert not dlogits[targets == ignore_index].any()


def test_cross_entropy_gradient_central_differences():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((5, 2, 4))
    targets = rng.integers(0, 4, (5, 2))
    targets[1, 0] = targets[3, 1] = -100
    _, dlogits = softmax_cross_entropy(logits, targets)
    assert_gradients(lambda: softmax_cross_entropy(logits, targets)[0], {"logits": dlogits}, {"logits": logits})


def test_cross_entropy_of_all_ignored_targets_is_zero_and_uniform_logits_give_log_c():
    loss, dlogits = softmax_cross_entropy(np.ones((3, 5)), np.full(3, -100))
    assert loss == 0.0 and not dlogits.any()
    loss, _ = softmax_cross_entropy(np.zeros((2, 7), np.float32), np.array([0, 6]))
    assert loss == pytest.approx(np.log(7), rel=1e-6)
    loss, _ = softmax_cross_entropy(np.array([0.0, 0.0]), np.array(1))  # one sample: (C,) and ()
    assert loss == pytest.approx(np.log(2))


def test_cross_entropy_checks():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"targets holds classes outside \[0, 4\) that are not ignore_index \(-100\)"):
        softmax_cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"targets has shape \(4,\), expected \(3,\)"):
        softmax_cross_entropy(logits, np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="targets must be a numpy integer array, got float64"):
        softmax_cross_entropy(logits, np.zeros(3))
    with pytest.raises(TypeError, match="logits must be a float32 or float64 array"):
        softmax_cross_entropy(np.zeros((3, 4), np.int64), np.zeros(3, np.int64))


# --- several blocks, one optimizer -----------------------------------------------------------------

def test_named_merges_the_layers_own_arrays():
    lstm, head = LSTM(2, 3, seed=0), Linear(3, 2, seed=0)
    params = named(lstm=lstm, head=head, dropout=Dropout(0.1))
    assert list(params) == ["lstm.weight_ih", "lstm.weight_hh", "lstm.bias_ih", "lstm.bias_hh",
                            "head.weight", "head.bias"]
    assert params["head.weight"] is head.params["weight"]
    assert named(head={"weight": 1})["head.weight"] == 1  # dicts, such as grads, as they are
    with pytest.raises(TypeError, match="head must be a layer \\(with .params\\) or a dict of arrays, got int"):
        named(head=3)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_an_optimizer_over_named_parameters_updates_the_layers(name):
    """SGD's first step is p - lr * g exactly; every optimizer moves every layer's arrays."""
    rng = np.random.default_rng(6)
    embedding, gru, head = Embedding(5, 3, seed=0), GRU(3, 4, seed=0), Linear(4, 5, seed=0)
    before = {k: p.copy() for k, p in named(embedding=embedding, gru=gru, head=head).items()}
    optimizer = make_optimizer(name, named(embedding=embedding, gru=gru, head=head), lr=0.1)
    tokens = rng.integers(0, 5, (6, 2))
    x, e_cache = embedding.forward(tokens)
    y, _, g_cache = gru.forward(x)
    logits, h_cache = head.forward(y)
    _, dlogits = softmax_cross_entropy(logits[:-1], tokens[1:])
    head_grads, dy = head.backward(np.concatenate([dlogits, np.zeros_like(dlogits[:1])]), h_cache)
    gru_grads, dx, _ = gru.backward(dy, None, g_cache)
    embedding_grads, _ = embedding.backward(dx, e_cache)
    grads = named(embedding=embedding_grads, gru=gru_grads, head=head_grads)
    clip_global_norm(grads, 1e6)
    optimizer.step(grads)
    after = named(embedding=embedding, gru=gru, head=head)
    for k, p in after.items():
        assert not np.array_equal(p, before[k]), k
        if name == "sgd":
            np.testing.assert_array_equal(p, before[k] - np.float32(0.1) * grads[k])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_blocks_chained_are_model(cell):
    """Embedding -> cell -> Dropout -> Linear -> softmax_cross_entropy with Model's weights and
    dropout masks gives Model's loss and every one of its gradients, in float64: the blocks
    follow the same contract and the gradients chain by hand."""
    V, E, H, T, B = 7, 3, 4, 5, 2
    rng = np.random.default_rng(8)
    model = Model(V, hidden_size=H, num_layers=1, cell=cell, embed_size=E, dropout=0.3, dtype=np.float64, seed=1)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    targets[0] = 0  # ignored: as <s> is, in a language model
    loss, _, cache = model.forward(tokens, targets, dropout_rng=np.random.default_rng(9), ignore_index=0)
    expected = model.backward(cache)[0]

    p = model.parameters
    embedding, head = Embedding(V, E, dtype=np.float64), Linear(H, V, dtype=np.float64)
    embedding.load_state_dict({"weight": p["embedding.weight"]})
    head.load_state_dict({"weight": p["output.weight"], "bias": p["output.bias"]})
    rnn = model.layers[0]  # the Recurrent layer itself, whose params Model holds
    dropout = Dropout(0.3, seed=9)  # Model draws its one mask from the generator it is given
    x, e_cache = embedding.forward(tokens)
    y, _, r_cache = rnn.forward(x)
    dropped, d_cache = dropout.forward(y)
    logits, h_cache = head.forward(dropped)
    ours, dlogits = softmax_cross_entropy(logits, targets, ignore_index=0)
    head_grads, ddropped = head.backward(dlogits, h_cache)
    rnn_grads, dx, _ = rnn.backward(dropout.backward(ddropped, d_cache)[1], None, r_cache)
    embedding_grads, _ = embedding.backward(dx, e_cache)

    assert ours == pytest.approx(loss, rel=1e-13)
    grads = {"embedding.weight": embedding_grads["weight"], "output.weight": head_grads["weight"],
             "output.bias": head_grads["bias"], **{f"rnn.{k}_l0": g for k, g in rnn_grads.items()}}
    assert grads.keys() == expected.keys()
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, expected[name], rtol=1e-11, atol=1e-13, err_msg=name)
