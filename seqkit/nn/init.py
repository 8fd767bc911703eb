"""Parameter initialisation for the recurrent cells.

Two schemes:
- "uniform": every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default, so a fresh
  seqkit cell is distributed like a fresh nn.RNN/LSTM/GRU.
- "xavier": Xavier/Glorot-uniform input weights, orthogonal recurrent weights (one orthogonal
  H x H block per gate, so that repeated multiplication neither grows nor shrinks the state),
  zero biases: the choice recommended for training deep and long recurrent nets.
A cell may then adjust what these give (the LSTM sets its forget-gate bias: Cell.initialize).
"""
import numpy as np

SCHEMES = ("uniform", "xavier")


def uniform(rng, shape, bound, dtype):
    """Samples of U(-bound, bound) of the given shape and dtype."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def xavier_uniform(rng, shape, dtype):
    """Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) for shape (out, in)."""
    fan_out, fan_in = shape
    return uniform(rng, shape, np.sqrt(6.0 / (fan_in + fan_out)), dtype)


def orthogonal(rng, size, dtype):
    """A random orthogonal (size, size) matrix, uniformly distributed (Saxe et al. 2014): the Q of
    a Gaussian matrix's QR decomposition, its columns' signs fixed by R's diagonal."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def init_cell_params(rng, gates, input_size, hidden_size, scheme, dtype, scale=None):
    """Fresh parameters for a cell with `gates` gate blocks (1 RNN, 4 LSTM, 3 GRU): a dict
    weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,). scale: the bound of
    the uniform scheme (default 1/sqrt(H))."""
    G, H, I = gates, hidden_size, input_size
    if scheme == "uniform":
        bound = 1.0 / np.sqrt(H) if scale is None else scale
        params = {
            "weight_ih": uniform(rng, (G * H, I), bound, dtype),
            "weight_hh": uniform(rng, (G * H, H), bound, dtype),
            "bias_ih": uniform(rng, (G * H,), bound, dtype),
            "bias_hh": uniform(rng, (G * H,), bound, dtype),
        }
    elif scheme == "xavier":
        params = {
            "weight_ih": np.concatenate([xavier_uniform(rng, (H, I), dtype) for _ in range(G)]),
            "weight_hh": np.concatenate([orthogonal(rng, H, dtype) for _ in range(G)]),
            "bias_ih": np.zeros(G * H, dtype),
            "bias_hh": np.zeros(G * H, dtype),
        }
    else:
        raise ValueError(f"unknown init scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    return params
