"""The compiled forward passes against the slow numpy references, in float64 and float32."""
import numpy as np
import pytest
from numpy_reference import gru_reference, lstm_reference, rnn_reference
from variants import make_cell, random_state, state_arrays

T, B, I, H = 6, 3, 4, 5


def reference(variant, cell, x, state):
    p = cell.params
    weights = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    if variant == "lstm":
        y, h, c = lstm_reference(x, *state, *weights)
        return y, (h, c)
    if variant == "gru":
        y, h = gru_reference(x, state, *weights)
    else:
        y, h = rnn_reference(x, state, *weights, nonlinearity=variant[4:])
    return y, (h,)


def test_forward_matches_numpy_reference_float64(variant):
    rng = np.random.default_rng(1)
    cell = make_cell(variant, I, H, seed=2)
    x = rng.standard_normal((T, B, I))
    state = random_state(cell, B, rng)
    y, final, _ = cell.forward(x, state)
    y_ref, final_ref = reference(variant, cell, x, state)
    assert y.dtype == np.float64 and y.shape == (T, B, H)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-10)
    for got, want in zip(state_arrays(final), final_ref):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_float32_stays_float32_and_close_to_float64(variant):
    rng = np.random.default_rng(3)
    cell64 = make_cell(variant, I, H, seed=4)
    cell32 = make_cell(variant, I, H, dtype=np.float32, seed=4)
    x = rng.standard_normal((T, B, I))
    y64, state64, cache64 = cell64.forward(x)
    y32, state32, cache32 = cell32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    assert all(a.dtype == np.float32 for a in state_arrays(state32))
    np.testing.assert_allclose(y32, y64, atol=1e-5)
    grads, dx, dstate = cell32.backward(np.ones_like(y32), None, cache32)
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(a.dtype == np.float32 for a in state_arrays(dstate))


def test_step_by_step_equals_sequence_forward(variant):
    rng = np.random.default_rng(5)
    cell = make_cell(variant, I, H, seed=6)
    x = rng.standard_normal((T, B, I))
    state = random_state(cell, B, rng)
    y, final, _ = cell.forward(x, state)
    for t in range(T):
        h, state = cell.step(x[t], state)
        np.testing.assert_allclose(h, y[t], rtol=0, atol=1e-12)
    for got, want in zip(state_arrays(state), state_arrays(final)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_chunks_with_carried_state_equal_one_long_forward(variant):
    """What truncated BPTT relies on: running 12 steps as 3 chunks of 4, carrying the final
    state across, gives exactly the outputs of one 12-step run."""
    rng = np.random.default_rng(7)
    cell = make_cell(variant, I, H, seed=8)
    x = rng.standard_normal((12, B, I))
    y_long, final_long, _ = cell.forward(x)
    state, chunks = None, []
    for start in range(0, 12, 4):
        y, state, _ = cell.forward(x[start:start + 4], state)
        chunks.append(y)
    np.testing.assert_array_equal(np.concatenate(chunks), y_long)
    for got, want in zip(state_arrays(state), state_arrays(final_long)):
        np.testing.assert_array_equal(got, want)


def test_forward_is_deterministic(variant):
    x = np.random.default_rng(9).standard_normal((T, B, I))
    first = make_cell(variant, I, H, seed=10).forward(x)[0]
    again = make_cell(variant, I, H, seed=10).forward(x)[0]
    other_seed = make_cell(variant, I, H, seed=11).forward(x)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_seed)


def test_wrong_dtype_is_refused_with_the_fix(variant):
    cell = make_cell(variant, I, H, dtype=np.float32)
    with pytest.raises(TypeError, match=r"x has dtype float64 .* x.astype\(np.float32\)"):
        cell.forward(np.zeros((T, B, I)))


def test_wrong_input_size_is_refused(variant):
    cell = make_cell(variant, I, H)
    with pytest.raises(ValueError, match=r"x has shape \(6, 3, 7\), expected \(any, any, 4\)"):
        cell.forward(np.zeros((T, B, 7)))
