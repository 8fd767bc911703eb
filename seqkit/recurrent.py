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
from seqkit.workspace import FRESH

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

    def forward(self, x, state=None, workspace=None):
        """Run the cell over x (T, B, I). state: as zero_state gives, None for zeros.
        workspace: a seqkit.Workspace to reuse arrays from (see there), or None for fresh ones.

        Returns y (T, B, H), the final state, and the cache that backward needs. The input
        projection for all T steps is one matrix product; the recurrence runs compiled."""
        x = check_array("x", x, (None, None, self.input_size), self.dtype)
        ws = workspace or FRESH
        # forward's xproj is dead once the recurrence ran: backward writes dxproj into it.
        xproj = ws.empty("xproj", (*x.shape[:2], self.gates * self.hidden_size), self.dtype)
        linear_forward(x, self.params["weight_ih"], self.params["bias_ih"], xproj)
        y, state, cache = self.forward_projected(xproj, state, ws)
        return y, state, (x, cache)

    def backward(self, dy, dstate, cache, grads=None, workspace=None):
        """BPTT: dy (T, B, H) is dLoss/dy, dstate dLoss/d(final state) shaped like the state
        (None for zeros). grads: a dict parallel to params to write the gradients into, or None
        for new arrays. Returns grads, dx (T, B, I) and the gradient of the initial state,
        shaped like the state."""
        x, inner = cache
        ws = workspace or FRESH
        grads = {name: np.empty_like(p) for name, p in self.params.items()} if grads is None else grads
        dxproj, dstate0, grads = self.backward_projected(dy, dstate, inner, grads, ws)
        dx = ws.empty("dx", x.shape, self.dtype)
        linear_backward(dxproj, x, self.params["weight_ih"], dx, grads["weight_ih"], grads["bias_ih"])
        return grads, dx, dstate0

    def step(self, x_t, state=None):
        """One time step for sampling: x_t (B, I) and a state in, (h (B, H), next state) out.
        It runs the same compiled step as forward."""
        x_t = check_array("x_t", x_t, (None, self.input_size), self.dtype)
        xproj_t = np.empty((1, x_t.shape[0], self.gates * self.hidden_size), self.dtype)
        linear_forward(x_t[None], self.params["weight_ih"], self.params["bias_ih"], xproj_t)
        return self.step_projected(xproj_t[0], state)

    def forward_projected(self, xproj, state, workspace=None):
        """forward, from xproj = x @ weight_ih.T + bias_ih (T, B, G*H) already computed, as the
        one-hot input path does with a row gather. Returns y, final state, cache."""
        xproj = check_array("xproj", xproj, (None, None, self.gates * self.hidden_size), self.dtype)
        T, B = xproj.shape[:2]
        if T == 0:
            raise ValueError("the input has no time steps (T = 0)")
        ws = workspace or FRESH
        # One (T + 1, B, H) array per state array: the initial state, then each step's.
        sequences = tuple(ws.empty(f"states{k}", (T + 1, B, self.hidden_size), self.dtype)
                          for k in range(self.state_arrays))
        for sequence, initial in zip(sequences, self._state_arrays(state, B, "state")):
            sequence[0] = initial
        extra = self._forward_kernel(xproj, sequences, ws)
        final = self._pack([sequence[-1].copy() for sequence in sequences])
        return sequences[0][1:], final, (sequences, extra)

    def backward_projected(self, dy, dstate, cache, grads=None, workspace=None):
        """backward as far as xproj. Returns dxproj (T, B, G*H), the initial state's gradient,
        and grads (None: a new dict) with the gradients of weight_hh and bias_hh written in."""
        sequences, extra = cache
        T, B = sequences[0].shape[0] - 1, sequences[0].shape[1]
        dy = check_array("dy", dy, (T, B, self.hidden_size), self.dtype)
        ws = workspace or FRESH
        dfinal = self._state_arrays(dstate, B, "dstate")
        dxproj = ws.empty("xproj", (T, B, self.gates * self.hidden_size), self.dtype)
        dstate0 = tuple(np.empty((B, self.hidden_size), self.dtype) for _ in range(self.state_arrays))
        if grads is None:
            grads = {name: np.empty_like(self.params[name]) for name in ("weight_hh", "bias_hh")}
        self._backward_kernel(dy, dfinal, sequences, extra, dxproj, dstate0, grads["weight_hh"],
                              grads["bias_hh"], ws)
        return dxproj, self._pack(dstate0), grads

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

    def _forward_kernel(self, xproj, sequences, ws):
        rnn_forward(xproj, self.params["weight_hh"], self.params["bias_hh"], self.nonlinearity == "relu",
                    sequences[0])
        return ()

    def _backward_kernel(self, dy, dfinal, sequences, extra, dxproj, dstate0, dweight_hh, dbias_hh, ws):
        rnn_backward(dy, dfinal[0], self.params["weight_hh"], sequences[0], self.nonlinearity == "relu",
                     dxproj, dstate0[0], dweight_hh, dbias_hh)

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

    def _forward_kernel(self, xproj, sequences, ws):
        gates = ws.empty("gates", xproj.shape, self.dtype)
        lstm_forward(xproj, self.params["weight_hh"], self.params["bias_hh"], *sequences, gates)
        return (gates,)

    def _backward_kernel(self, dy, dfinal, sequences, extra, dxproj, dstate0, dweight_hh, dbias_hh, ws):
        lstm_backward(dy, *dfinal, self.params["weight_hh"], *sequences, *extra, dxproj, *dstate0,
                      dweight_hh, dbias_hh)

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

    def _forward_kernel(self, xproj, sequences, ws):
        gates = ws.empty("gates", xproj.shape, self.dtype)
        hn = ws.empty("hn", sequences[0][1:].shape, self.dtype)
        gru_forward(xproj, self.params["weight_hh"], self.params["bias_hh"], sequences[0], gates, hn)
        return gates, hn

    def _backward_kernel(self, dy, dfinal, sequences, extra, dxproj, dstate0, dweight_hh, dbias_hh, ws):
        dhproj = ws.empty("dhproj", dxproj.shape, self.dtype)
        gru_backward(dy, dfinal[0], self.params["weight_hh"], sequences[0], *extra, dxproj, dhproj,
                     dstate0[0], dweight_hh, dbias_hh)

    def _step_kernel(self, xproj_t, h_prev):
        h, hn = np.empty_like(h_prev), np.empty_like(h_prev)
        gates = np.empty_like(xproj_t)
        gru_step_forward(xproj_t, h_prev, self.params["weight_hh"], self.params["bias_hh"], gates, hn, h)
        return (h,)
