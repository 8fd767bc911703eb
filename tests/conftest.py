"""Shared fixtures: every cell variant seqkit has, built the same way for each test."""
import numpy as np
import pytest

from seqkit import GRU, LSTM, RNN

CELL_VARIANTS = {
    "rnn_tanh": lambda *args, **kw: RNN(*args, nonlinearity="tanh", **kw),
    "rnn_relu": lambda *args, **kw: RNN(*args, nonlinearity="relu", **kw),
    "lstm": LSTM,
    "gru": GRU,
}


@pytest.fixture(params=list(CELL_VARIANTS))
def variant(request):
    """The name of a cell variant; the tests using it run once for each."""
    return request.param


def make_cell(variant, input_size, hidden_size, dtype=np.float64, seed=0):
    return CELL_VARIANTS[variant](input_size, hidden_size, dtype=dtype, seed=seed)


def random_state(cell, batch_size, rng):
    """A non-zero state for `cell`: h, or (h, c) for an LSTM."""
    return cell.pack_state([rng.uniform(-0.9, 0.9, (batch_size, cell.hidden_size)).astype(cell.dtype)
                            for _ in range(cell.state_size)])


def state_arrays(state):
    """The arrays of a cell state, as a tuple, whatever the cell."""
    return tuple(state) if isinstance(state, tuple) else (state,)
