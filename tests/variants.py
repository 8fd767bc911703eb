"""Every cell variant seqkit has, built the same way for each test (conftest's `variant` fixture
runs a test once for each), and the state helpers that work whatever the cell."""
import numpy as np

from seqkit import GRU, LSTM, RNN

CELL_VARIANTS = {
    "rnn_tanh": lambda *args, **kw: RNN(*args, nonlinearity="tanh", **kw),
    "rnn_relu": lambda *args, **kw: RNN(*args, nonlinearity="relu", **kw),
    "lstm": LSTM,
    "gru": GRU,
}


def make_cell(variant, input_size, hidden_size, dtype=np.float64, seed=0):
    return CELL_VARIANTS[variant](input_size, hidden_size, dtype=dtype, seed=seed)


def random_state(cell, batch_size, rng):
    """A non-zero state for `cell`: h, or (h, c) for an LSTM."""
    return cell.pack_state([rng.uniform(-0.9, 0.9, (batch_size, cell.hidden_size)).astype(cell.dtype)
                            for _ in range(cell.state_size)])


def state_arrays(state):
    """The arrays of a cell state, as a tuple, whatever the cell."""
    return tuple(state) if isinstance(state, tuple) else (state,)
