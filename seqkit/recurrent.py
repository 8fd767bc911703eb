"""The recurrent cells as Python objects: RNN, LSTM and GRU hold their parameters, check their
inputs and call the compiled kernels of seqkit/cells/.

Letters: T time steps, B batch, I input size, H hidden size, G gates (RNN 1, LSTM 4, GRU 3).
Parameters follow PyTorch's names and shapes, so weights move between the two:
weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,).
The dtype (float32 or float64) is the parameters'; inputs must match it, never silently cast.
"""
import numpy as np

from seqkit.cells.gru import gru_backward, gru_forward, gru_step_forward
from seqkit.cells.lstm import lstm_backward, lstm_forward, lstm_step_forward
from seqkit.cells.rnn import rnn_backward, rnn_forward, rnn_step_forward
from seqkit.init import init_cell_params
from seqkit.layers import linear_backward, linear_forward

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
DTYPES = (np.float32, np.float64)


def check_dtype(dtype):
    """np.dtype of `dtype`, which must be float32 or float64."""
    dtype = np.dtype(dtype)
    if dtype not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def check_array(name, array, shape, dtype):
    """`array` as a C-contiguous ndarray, after checking its shape (None matches any size) and
    that its dtype is exactly `dtype`: seqkit never casts inputs behind the caller's back."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
        expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {array.shape}, expected {expected}")
    if array.dtype != dtype:
        raise TypeError(f"{name} has dtype {array.dtype} but the parameters are {dtype}: "
                        f"pass {name}.astype(np.{dtype}) or build the model with dtype=np.{array.dtype}")
    return np.ascontiguousarray(array)


class Recurrent:
    """One recurrent layer run over whole sequences. Subclasses bind the kernels of one cell
    and say how its state is shaped: `h` (B, H) for RNN and GRU, `(h, c)` for LSTM."""

    gates = 1

    def __init__(self, input_size, hidden_size, dtype=np.float32, seed=None, init="uniform",
                 forget_bias=1.0):
        """input_size I and hidden_size H: positive ints. dtype: float32 or float64.
        seed: int, None or a np.random.Generator, for the initial weights. init: "uniform"
        (PyTorch's default) or "xavier" (see seqkit.init). forget_bias: LSTM only."""
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.params = init_cell_params(np.random.default_rng(seed), self.gates, self.input_size,
                                       self.hidden_size, init, forget_bias, check_dtype(dtype))

    @property
    def dtype(self):
        return self.params["weight_hh"].dtype

    def __repr__(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, dtype=np.{self.dtype})"

    def load_state_dict(self, state_dict):
        """Copy weight_ih, weight_hh, bias_ih, bias_hh in from `state_dict`, whose keys may carry
        PyTorch's "_l0" suffix (an nn.LSTM(...).state_dict() converted to numpy loads as is).
        Shapes must match exactly; values are converted to this cell's dtype."""
        found = {}
        for key, value in state_dict.items():
            name = key[:-3] if key.endswith("_l0") else key
            if name not in PARAM_NAMES or name in found:
                raise KeyError(f"unexpected key {key!r} in state dict: a {type(self).__name__} takes "
                               f"{', '.join(PARAM_NAMES)} (optionally with the suffix _l0)")
            found[name] = np.asarray(value)
        missing = [name for name in PARAM_NAMES if name not in found]
        if missing:
            raise KeyError(f"state dict lacks {', '.join(missing)}")
        for name, value in found.items():
            if value.shape != self.params[name].shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {self.params[name].shape} "
                                 f"for {self!r}")
        for name, value in found.items():
            np.copyto(self.params[name], value, casting="same_kind")

    def zero_state(self, batch_size):
        """The all-zeros state for a batch of `batch_size`."""
        return self._pack([np.zeros((batch_size, self.hidden_size), self.dtype)
                           for _ in range(self.state_arrays)])

    def forward(self, x, state=None):
        """Run the cell over x (T, B, I). state: as zero_state gives, None for zeros.

        Returns y (T, B, H), the final state, and the cache that backward needs. The input
        projection for all T steps is one matrix product; the recurrence runs compiled."""
        x = check_array("x", x, (None, None, self.input_size), self.dtype)
        xproj = linear_forward(x, self.params["weight_ih"], self.params["bias_ih"])
        y, state, cache = self.forward_projected(xproj, state)
        return y, state, (x, cache)

    def backward(self, dy, dstate, cache):
        """BPTT: dy (T, B, H) is dLoss/dy, dstate dLoss/d(final state) shaped like the state
        (None for zeros). Returns grads (a dict parallel to params), dx (T, B, I) and the
        gradient of the initial state, shaped like the state."""
        x, inner = cache
        dxproj, dstate0, grads = self.backward_projected(dy, dstate, inner)
        dx, grads["weight_ih"], grads["bias_ih"] = linear_backward(dxproj, x, self.params["weight_ih"])
        return {name: grads[name] for name in PARAM_NAMES}, dx, dstate0

    def step(self, x_t, state=None):
        """One time step for sampling: x_t (B, I) and a state in, (h (B, H), next state) out.
        It runs the same compiled step as forward."""
        x_t = check_array("x_t", x_t, (None, self.input_size), self.dtype)
        xproj_t = linear_forward(x_t[None], self.params["weight_ih"], self.params["bias_ih"])[0]
        return self.step_projected(xproj_t, state)

    def forward_projected(self, xproj, state):
        """forward, from xproj = x @ weight_ih.T + bias_ih (T, B, G*H) already computed, as the
        one-hot input path does with a row gather. Returns y, final state, cache."""
        xproj = check_array("xproj", xproj, (None, None, self.gates * self.hidden_size), self.dtype)
        if xproj.shape[0] == 0:
            raise ValueError("the input has no time steps (T = 0)")
        arrays = self._state_arrays(state, xproj.shape[1], "state")
        y, *cache = self._forward_kernel(xproj, *arrays)
        return y, self._final_state(y, cache), (arrays, y, cache)

    def backward_projected(self, dy, dstate, cache):
        """backward as far as xproj. Returns dxproj (T, B, G*H), the initial state's gradient,
        and a dict with the gradients of weight_hh and bias_hh."""
        arrays, y, inner = cache
        dy = check_array("dy", dy, y.shape, self.dtype)
        darrays = self._state_arrays(dstate, y.shape[1], "dstate")
        dxproj, *dstate0, dweight_hh, dbias_hh = self._backward_kernel(dy, *darrays, *arrays, y, *inner)
        return dxproj, self._pack(dstate0), {"weight_hh": dweight_hh, "bias_hh": dbias_hh}

    def step_projected(self, xproj_t, state):
        """step, from xproj_t (B, G*H) already computed. Returns (h, next state)."""
        arrays = self._state_arrays(state, xproj_t.shape[0], "state")
        outputs = self._step_kernel(xproj_t, *arrays)
        return outputs[0], self._pack(outputs[:self.state_arrays])

    # --- what each cell says about its state; subclasses override -------------------------
    state_arrays = 1  # how many (B, H) arrays make a state

    def _pack(self, arrays):
        return arrays[0]

    def _unpack(self, state):
        return (state,)

    def _state_arrays(self, state, batch_size, name):
        if state is None:
            return tuple(np.zeros((batch_size, self.hidden_size), self.dtype)
                         for _ in range(self.state_arrays))
        shape = (batch_size, self.hidden_size)
        return tuple(check_array(name, a, shape, self.dtype) for a in self._unpack(state))


class RNN(Recurrent):
    """Elman RNN, h' = tanh(W_ih x + b_ih + W_hh h + b_hh), or relu with nonlinearity="relu".
    State: h (B, H)."""

    gates = 1

    def __init__(self, input_size, hidden_size, dtype=np.float32, seed=None, init="uniform",
                 nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, dtype, seed, init, forget_bias=None)

    def _forward_kernel(self, xproj, h0):
        p = self.params
        return (rnn_forward(xproj, h0, p["weight_hh"], p["bias_hh"], self.nonlinearity == "relu"),)

    def _backward_kernel(self, dy, dh_final, h0, y):
        return rnn_backward(dy, dh_final, h0, self.params["weight_hh"], y, self.nonlinearity == "relu")

    def _final_state(self, y, cache):
        return y[-1].copy()

    def _step_kernel(self, xproj_t, h_prev):
        h = np.empty_like(h_prev)
        rnn_step_forward(xproj_t, h_prev, self.params["weight_hh"], self.params["bias_hh"],
                         self.nonlinearity == "relu", h)
        return (h,)


class LSTM(Recurrent):
    """LSTM with PyTorch's gate order i, f, g, o. State: (h, c), each (B, H)."""

    gates = 4
    state_arrays = 2

    def _pack(self, arrays):
        return tuple(arrays)

    def _unpack(self, state):
        if not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise TypeError("an LSTM state is a pair (h, c) of (B, H) arrays")
        return state

    def _forward_kernel(self, xproj, h0, c0):
        return lstm_forward(xproj, h0, c0, self.params["weight_hh"], self.params["bias_hh"])

    def _backward_kernel(self, dy, dh_final, dc_final, h0, c0, y, c, gates):
        return lstm_backward(dy, dh_final, dc_final, h0, c0, self.params["weight_hh"], y, c, gates)

    def _final_state(self, y, cache):
        return y[-1].copy(), cache[0][-1].copy()

    def _step_kernel(self, xproj_t, h_prev, c_prev):
        h, c = np.empty_like(h_prev), np.empty_like(c_prev)
        gates = np.empty_like(xproj_t)
        lstm_step_forward(xproj_t, h_prev, c_prev, self.params["weight_hh"], self.params["bias_hh"],
                          gates, h, c)
        return h, c


class GRU(Recurrent):
    """GRU with PyTorch's gate order r, z, n; the reset gate scales W_hn h + b_hn.
    State: h (B, H)."""

    gates = 3

    def __init__(self, input_size, hidden_size, dtype=np.float32, seed=None, init="uniform"):
        super().__init__(input_size, hidden_size, dtype, seed, init, forget_bias=None)

    def _forward_kernel(self, xproj, h0):
        return gru_forward(xproj, h0, self.params["weight_hh"], self.params["bias_hh"])

    def _backward_kernel(self, dy, dh_final, h0, y, gates, hn):
        return gru_backward(dy, dh_final, h0, self.params["weight_hh"], y, gates, hn)

    def _final_state(self, y, cache):
        return y[-1].copy()

    def _step_kernel(self, xproj_t, h_prev):
        h, hn = np.empty_like(h_prev), np.empty_like(h_prev)
        gates = np.empty_like(xproj_t)
        gru_step_forward(xproj_t, h_prev, self.params["weight_hh"], self.params["bias_hh"], gates, hn, h)
        return (h,)
