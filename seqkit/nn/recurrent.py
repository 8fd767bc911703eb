"""Recurrent layers as Python objects: a Recurrent holds one registered cell's parameters, checks
inputs and calls that cell's kernels (seqkit.cells). RNN, LSTM and GRU are Recurrent with the
cell named.

Letters: T time steps, B batch, I input size, H hidden size, G gates (RNN 1, LSTM 4, GRU 3),
S state arrays. Parameters follow PyTorch's names and shapes, so weights move between the two:
weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,). A state is one (B, H)
array when S = 1 and a tuple of S of them otherwise (an LSTM's (h, c)). The dtype (float32 or
float64) is the parameters'; inputs must match it, never silently cast.
"""
from typing import Any, Mapping, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from seqkit import cells
from seqkit._checks import check_array, check_count, check_dtype
from seqkit.nn.init import init_cell_params
from seqkit.nn.kernels import linear_backward, linear_forward
from seqkit.nn.workspace import FRESH, Workspace

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
State = Union[np.ndarray, tuple[np.ndarray, ...]]  # an LSTM's (h, c); a GRU's or an RNN's h
Cache = Any  # what forward returns for backward; opaque to callers


class Recurrent:
    """One recurrent layer of a registered cell, run over whole sequences or step by step."""

    def __init__(self, input_size: int, hidden_size: int, cell: str = "lstm", dtype: DTypeLike = np.float32,
                 seed: int | np.random.Generator | None = None, init: str = "uniform",
                 init_scale: float | None = None, **options: Any) -> None:
        """input_size I and hidden_size H: positive ints. cell: a name in seqkit.cells.names().
        dtype: float32 or float64. seed: int, None or a np.random.Generator, for the initial
        weights. init: "uniform" (PyTorch's default) or "xavier" (see seqkit.nn.init); init_scale:
        with "uniform", U(-init_scale, init_scale) rather than U(+-1/sqrt(H)). options: the
        cell's own (an LSTM's forget_bias, an RNN's nonlinearity), defaults from its registry entry."""
        self.cell = cells.get(cell)
        unknown = set(options) - set(self.cell.options)
        if unknown:
            raise TypeError(f"the {cell} cell takes no option {', '.join(sorted(unknown))} "
                            f"(its options: {', '.join(self.cell.options) or 'none'})")
        self.options = {**self.cell.options, **options}
        self.kernels = self.cell.kernels_for(self.options)
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        self.gates, self.state_size = self.cell.gates, self.cell.state_size
        self.params = init_cell_params(np.random.default_rng(seed), self.gates, self.input_size,
                                       self.hidden_size, init, check_dtype(dtype), init_scale)
        if self.cell.initialize:
            self.cell.initialize(self.params, self.hidden_size, **self.options)

    @property
    def dtype(self) -> np.dtype:
        return self.params["weight_hh"].dtype

    def __repr__(self) -> str:
        return f"Recurrent({self.input_size}, {self.hidden_size}, cell={self.cell.name!r}, dtype=np.{self.dtype})"

    def load_state_dict(self, state_dict: Mapping[str, ArrayLike]) -> None:
        """Copy weight_ih, weight_hh, bias_ih, bias_hh in from `state_dict`, whose keys may carry
        PyTorch's "_l0" suffix (an nn.LSTM(...).state_dict() converted to numpy loads as is).
        Shapes must match exactly; values are converted to this cell's dtype."""
        found = {}
        for key, value in state_dict.items():
            name = key[:-3] if key.endswith("_l0") else key
            if name not in PARAM_NAMES or name in found:
                raise KeyError(f"unexpected key {key!r} in state dict: a {self.cell.name} layer takes "
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

    # --- states: S arrays (B, H), packed as one array or a tuple ----------------------------------
    def zero_state(self, batch_size: int) -> State:
        """The all-zeros state for a batch of `batch_size`."""
        return self.pack_state([np.zeros((batch_size, self.hidden_size), self.dtype)
                                for _ in range(self.state_size)])

    def pack_state(self, arrays: Sequence[np.ndarray]) -> State:
        """The state made of these S arrays: the array itself when S = 1, else a tuple."""
        return arrays[0] if self.state_size == 1 else tuple(arrays)

    def state_arrays(self, state: State | None, batch_size: int | None = None,
                     name: str = "state") -> tuple[np.ndarray, ...]:
        """The S arrays of a state, each checked to be (B, H) of this dtype (B any size when
        batch_size is None); zeros for None, which needs batch_size."""
        if state is None:
            if batch_size is None:
                raise ValueError(f"{name} is None: give the batch size for its zeros")
            return tuple(np.zeros((batch_size, self.hidden_size), self.dtype) for _ in range(self.state_size))
        arrays = (state,) if self.state_size == 1 else state
        if self.state_size > 1 and not (isinstance(state, (tuple, list)) and len(state) == self.state_size):
            raise TypeError(f"{name} of a {self.cell.name} layer must be a tuple of {self.state_size} (B, H) "
                            f"arrays, got {type(state).__name__}")
        return tuple(check_array(name, a, (batch_size, self.hidden_size), self.dtype) for a in arrays)

    # --- whole sequences ---------------------------------------------------------------------------
    def forward(self, x: np.ndarray, state: State | None = None,
                workspace: Workspace | None = None) -> tuple[np.ndarray, State, Cache]:
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

    def backward(self, dy: np.ndarray, dstate: State | None, cache: Cache, grads: dict[str, np.ndarray] | None = None,
                 workspace: Workspace | None = None) -> tuple[dict[str, np.ndarray], np.ndarray, State]:
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

    def forward_projected(self, xproj: np.ndarray, state: State | None,
                          workspace: Workspace | None = None) -> tuple[np.ndarray, State, Cache]:
        """forward, from xproj = x @ weight_ih.T + bias_ih (T, B, G*H) already computed, as
        seqkit.Model's first layer does with a row gather (one-hot input, or a table of the
        embedding's projection). Returns y, final state, cache."""
        xproj = check_array("xproj", xproj, (None, None, self.gates * self.hidden_size), self.dtype)
        T, B = xproj.shape[:2]
        if T == 0:
            raise ValueError("the input has no time steps (T = 0)")
        ws, H = workspace or FRESH, self.hidden_size
        states = ws.empty("states", (self.state_size, T + 1, B, H), self.dtype)
        states[:, 0] = self.state_arrays(state, B)
        cache = ws.empty("cache", (T, B, self.cell.cache_size * H), self.dtype)
        self.kernels.forward(xproj, states, self.params["weight_hh"], self.params["bias_hh"], cache)
        final = self.pack_state([states[s, -1].copy() for s in range(self.state_size)])
        return states[0, 1:], final, (states, cache)

    def backward_projected(self, dy: np.ndarray, dstate: State | None, cache: Cache,
                           grads: dict[str, np.ndarray] | None = None,
                           workspace: Workspace | None = None) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
        """backward as far as xproj. Returns dxproj (T, B, G*H), the initial state's gradient,
        and grads (None: a new dict) with the gradients of weight_hh and bias_hh written in."""
        states, step_cache = cache
        S, T, B, H = states.shape[0], states.shape[1] - 1, states.shape[2], states.shape[3]
        dy = check_array("dy", dy, (T, B, H), self.dtype)
        ws = workspace or FRESH
        dfinal = np.stack(self.state_arrays(dstate, B, "dstate"))
        dxproj = ws.empty("xproj", (T, B, self.gates * H), self.dtype)
        dinitial = np.empty((S, B, H), self.dtype)
        scratch = ws.empty("scratch", (T, B, self.cell.scratch_size * H), self.dtype)
        if grads is None:
            grads = {name: np.empty_like(self.params[name]) for name in ("weight_hh", "bias_hh")}
        self.kernels.backward(dy, dfinal, states, step_cache, self.params["weight_hh"], dxproj, dinitial,
                              grads["weight_hh"], grads["bias_hh"], scratch)
        return dxproj, self.pack_state(list(dinitial)), grads

    # --- one step at a time --------------------------------------------------------------------------
    def step(self, x_t: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        """One time step for sampling: x_t (B, I) and a state in, (h (B, H), next state) out.
        It runs the same compiled step as forward."""
        x_t = check_array("x_t", x_t, (None, self.input_size), self.dtype)
        xproj_t = np.empty((1, x_t.shape[0], self.gates * self.hidden_size), self.dtype)
        linear_forward(x_t[None], self.params["weight_ih"], self.params["bias_ih"], xproj_t)
        return self.step_projected(xproj_t[0], state)

    def step_projected(self, xproj_t: np.ndarray, state: State | None) -> tuple[np.ndarray, State]:
        """step, from xproj_t (B, G*H) already computed. Returns (h, next state)."""
        B, H = xproj_t.shape[0], self.hidden_size
        states = np.empty((self.state_size, 2, B, H), self.dtype)
        states[:, 0] = self.state_arrays(state, B)
        cache_t = np.empty((B, self.cell.cache_size * H), self.dtype)
        self.kernels.step_forward(xproj_t, states, 0, self.params["weight_hh"], self.params["bias_hh"], cache_t)
        following = [states[s, 1] for s in range(self.state_size)]
        return following[0], self.pack_state(following)


class RNN(Recurrent):
    """Elman RNN, h' = tanh(W_ih x + b_ih + W_hh h + b_hh), or relu with nonlinearity="relu".
    State: h (B, H)."""

    def __init__(self, input_size: int, hidden_size: int, dtype: DTypeLike = np.float32,
                 seed: int | np.random.Generator | None = None, init: str = "uniform", nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden_size, "rnn", dtype, seed, init, nonlinearity=nonlinearity)


class LSTM(Recurrent):
    """LSTM with PyTorch's gate order i, f, g, o. State: (h, c), each (B, H). forget_bias: the
    forget gate's effective bias at initialisation (None keeps the init scheme's, as nn.LSTM)."""

    def __init__(self, input_size: int, hidden_size: int, dtype: DTypeLike = np.float32,
                 seed: int | np.random.Generator | None = None, init: str = "uniform",
                 forget_bias: float | None = None) -> None:
        super().__init__(input_size, hidden_size, "lstm", dtype, seed, init, forget_bias=forget_bias)


class GRU(Recurrent):
    """GRU with PyTorch's gate order r, z, n; the reset gate scales W_hn h + b_hn. State: h (B, H)."""

    def __init__(self, input_size: int, hidden_size: int, dtype: DTypeLike = np.float32,
                 seed: int | np.random.Generator | None = None, init: str = "uniform") -> None:
        super().__init__(input_size, hidden_size, "gru", dtype, seed, init)
