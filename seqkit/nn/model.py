"""A stacked recurrent language model: tokens -> input layer -> L recurrent layers -> linear ->
softmax cross-entropy.

Letters: T time steps, B batch, V vocabulary, E embedding size, H hidden size, L layers,
N = T * B. Tokens and targets are integer arrays (T, B): time-major, one column per stream.

              tokens (T, B)
                   |  embedding row gather (T, B, E), or one-hot: a row gather of weight_ih_l0.T
                   |  (an embedding at 4+ tokens an entry: a row gather of its projection, see _projection_table)
      layer 0 .. L-1 recurrent cells (T, B, H), inverted dropout on each layer's output
                   |  linear (T, B, V) and softmax cross-entropy, mean over the N tokens,
                   |  a block of rows at a time (the logits never exist whole)

Parameter names follow a PyTorch module with attributes `embedding` (nn.Embedding), `rnn`
(nn.RNN/LSTM/GRU with num_layers=L) and `output` (nn.Linear).
"""
from typing import Any, Mapping, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from seqkit import cells
from seqkit._checks import check_count, check_dtype
from seqkit.cells.activations import column_sums
from seqkit.nn.gradients import aligned_zeros, gradient_buffer_size, gradient_views
from seqkit.nn.init import uniform
from seqkit.nn.kernels import gather_rows, linear_backward, linear_forward, output_loss, scatter_add_rows
from seqkit.nn.recurrent import Recurrent
from seqkit.nn.workspace import FRESH, Workspace

TORCH_NAMES = {"embedding.weight": "encoder.weight", "output.weight": "decoder.weight",
               "output.bias": "decoder.bias"}  # ours -> pytorch/examples' word_language_model's
OUTPUT_BLOCK_BYTES = 1 << 24  # logits computed this much at a time: (T, B, V) never exists whole
# An embedded first layer's projection is gathered from a table of the vocabulary's when a batch
# has at least this many tokens an entry: its products then shrink that much or more, and the
# table and its gradient together are at most half the size of the projection itself.
TOKENS_AN_ENTRY_TO_GATHER = 4


class ForwardCache(NamedTuple):
    """What Model.forward keeps for backward."""
    tokens: np.ndarray
    input_mask: np.ndarray | None  # dropout on the embedded input, or None
    gathered: bool                 # layer 0's projection was gathered from _projection_table (an embedding's)
    layer_caches: list
    masks: list                    # each layer's output dropout mask, or None
    x: np.ndarray                  # the top layer's output as the output layer saw it (T, B, H)
    dlogits: np.ndarray            # the gradient of the logits (T, B, V)
    workspace: object


class Model:
    """A recurrent language model whose parameters and gradients are dicts of arrays by name."""

    def __init__(self, vocab_size: int, hidden_size: int = 128, num_layers: int = 2, cell: str = "lstm",
                 embed_size: int | None = None, dropout: float = 0.0, dtype: DTypeLike = np.float32,
                 seed: int | np.random.Generator | None = None, init: str = "uniform", input_dropout: float = 0.0,
                 variational: bool = False, tie_weights: bool = False, init_scale: float | None = None,
                 **cell_options: Any) -> None:
        """vocab_size V; hidden_size H; num_layers L >= 1; cell: a name in seqkit.cells.names();
        embed_size E, or None for one-hot input; dropout in [0, 1), applied in training to the
        output of every recurrent layer, input_dropout to the embedded input; variational: one
        dropout mask per sequence, the same at every time step (Gal & Ghahramani 2016), rather
        than one per step; tie_weights: the output layer's weight is the embedding's (Press &
        Wolf 2017; needs E = H); dtype float32 or float64; seed int, None or a
        np.random.Generator; init "uniform" or "xavier"; init_scale: draw every parameter from
        U(-init_scale, init_scale) instead (Zaremba et al. 2014). cell_options: options of any
        registered cell (forget_bias, nonlinearity, ...); the chosen cell takes its own, the rest
        are ignored, so one configuration serves every cell."""
        spec = cells.get(cell)
        unknown = [name for name in cell_options if not cells.option_known(name)]
        if unknown:
            raise TypeError(f"no registered cell takes the option {', '.join(unknown)}")
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers), ("embed_size", embed_size or 1)):
            check_count(name, value)
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        if (input_dropout or tie_weights) and embed_size is None:
            raise ValueError("input_dropout and tie_weights need an embedding (embed_size), not one-hot input")
        if tie_weights and embed_size != hidden_size:
            raise ValueError(f"tie_weights needs embed_size = hidden_size, got {embed_size} and {hidden_size}")
        if init_scale is not None and not init_scale > 0:
            raise ValueError(f"init_scale must be positive, got {init_scale!r}")
        dtype = check_dtype(dtype)
        self.vocab_size, self.dropout, self.dtype = int(vocab_size), float(dropout), dtype
        self.input_dropout, self.variational, self.tied = float(input_dropout), bool(variational), bool(tie_weights)
        self.one_hot = embed_size is None
        rng = np.random.default_rng(seed)

        self.parameters = {}
        if embed_size is not None:
            # nn.Embedding's default initialisation: N(0, 1).
            self.parameters["embedding.weight"] = (
                rng.standard_normal((vocab_size, embed_size)) if init_scale is None
                else rng.uniform(-init_scale, init_scale, (vocab_size, embed_size))).astype(dtype)
        options = {name: value for name, value in cell_options.items() if name in spec.options}
        self.layers = []
        for k in range(num_layers):
            input_size = (vocab_size if embed_size is None else embed_size) if k == 0 else hidden_size
            layer = Recurrent(input_size, hidden_size, cell, dtype, rng, init, init_scale=init_scale, **options)
            self.layers.append(layer)
            for name, array in layer.params.items():
                self.parameters[f"rnn.{name}_l{k}"] = array
        # nn.Linear's default initialisation: U(-1/sqrt(H), 1/sqrt(H)).
        bound = 1.0 / np.sqrt(hidden_size) if init_scale is None else init_scale
        if not self.tied:
            self.parameters["output.weight"] = uniform(rng, (vocab_size, hidden_size), bound, dtype)
        self.parameters["output.bias"] = uniform(rng, (vocab_size,), bound, dtype)
        self.gradient_buffer = aligned_zeros(gradient_buffer_size(self.parameters), dtype)
        self.gradients = gradient_views(self.parameters, self.gradient_buffer)
        # The state a unit of text starts from when sampling or scoring: one (S, H) array per
        # layer (S: the cell's state arrays, h first), or None for zeros. Training records the
        # mean state the model reads <s> from (seqkit.training.evaluation.start_state_sums);
        # checkpoints keep it. Training itself starts each epoch from zeros.
        self.start_state: list[np.ndarray] | None = None

    def gradients_with_room(self, extra):
        """Move the gradients into a new flat buffer with `extra` elements after them and return
        that buffer (its tail is the caller's), so that one call can sum the gradients and a few
        numbers more across processes."""
        size = self.gradient_buffer.size
        buffer = aligned_zeros(size + extra, self.dtype)
        self.gradient_buffer = buffer[:size]
        self.gradients = gradient_views(self.parameters, self.gradient_buffer)
        return buffer

    @property
    def output_weight(self):
        """The output layer's weight (V, H): the embedding's when tied."""
        return self.parameters["embedding.weight" if self.tied else "output.weight"]

    def initial_state(self, batch_size):
        """All-zeros state: a list with one state per layer, as the cell packs it (seqkit.nn.recurrent)."""
        return [layer.zero_state(batch_size) for layer in self.layers]

    def forward(self, tokens: np.ndarray, targets: np.ndarray, state: list | None = None,
                dropout_rng: np.random.Generator | None = None, ignore_index: int = -1,
                workspace: Workspace | None = None, gradients: bool = True, mean_over: int | None = None,
                streams: tuple[int, int, int] | None = None) -> tuple[float, list, Any]:
        """Mean cross-entropy of predicting targets (T, B) from tokens (T, B).

        state: from initial_state or a previous forward, None for zeros. dropout_rng: a
        np.random.Generator to draw dropout masks from (training), or None for no dropout.
        Targets equal to ignore_index are not predicted: they count neither in the loss nor in
        the mean (a language model never predicts its start token <s>). workspace: a
        seqkit.Workspace whose arrays this call reuses (the next forward with it invalidates
        this one's cache), or None for fresh arrays. gradients: False when only the loss and
        state are wanted (evaluation): the output gradient (T, B, V) is not kept.
        When processes split a batch (seqkit.training.group), each passes its share: mean_over, the
        count of predicted tokens in the whole batch, so that the losses and gradients of the
        shares add up to the batch's; streams = (first, stop, total), which of the batch's
        `total` streams these B are, so that dropout masks are the ones a single process draws.
        Returns (loss, final state, cache for backward, or None without gradients)."""
        tokens = self._check_tokens("tokens", tokens)
        targets = self._check_tokens("targets", targets, tokens.shape)
        T, B = tokens.shape
        state = self.initial_state(B) if state is None else state
        if len(state) != len(self.layers):
            raise ValueError(f"state has {len(state)} layers, the model {len(self.layers)}")
        ws = workspace or FRESH

        p = self.parameters
        layer_caches, masks, final_state = [], [], []
        input_mask = None if self.one_hot else self._dropout_mask(
            (T, B, p["embedding.weight"].shape[1]), dropout_rng, ws, self.input_dropout, streams)
        table = self._projection_table(T * B, input_mask, ws)
        x: Any = None  # the layer's input: None while the first layer gathers its projection
        if not self.one_hot and table is None:
            x = ws.empty("embedded", (T, B, p["embedding.weight"].shape[1]), self.dtype)
            gather_rows(tokens, p["embedding.weight"], x)
            if input_mask is not None:
                x *= input_mask
        for k, layer in enumerate(self.layers):
            layer_ws = ws.child(k)
            if x is None:
                xproj = layer_ws.empty("xproj", (T, B, layer.gates * layer.hidden_size), self.dtype)
                if table is None:  # one-hot: x @ weight_ih.T is a row of weight_ih.T
                    gather_rows(tokens, layer.params["weight_ih"].T, xproj)
                    xproj += layer.params["bias_ih"]
                else:
                    gather_rows(tokens, table, xproj)
                y, layer_state, cache = layer.forward_projected(xproj, state[k], layer_ws)
            else:
                y, layer_state, cache = layer.forward(x, state[k], layer_ws)
            final_state.append(layer_state)
            layer_caches.append(cache)
            mask = self._dropout_mask(y.shape, dropout_rng, layer_ws, self.dropout, streams)
            masks.append(mask)
            x = y if mask is None else np.multiply(y, mask, out=layer_ws.empty("dropped", y.shape, self.dtype))
        N, V = T * B, self.vocab_size
        block_rows = min(N, max(1, OUTPUT_BLOCK_BYTES // (V * self.dtype.itemsize)))
        logits = ws.empty("logits", (block_rows, V), self.dtype)
        dlogits = ws.empty("dlogits", (N if gradients else block_rows, V), self.dtype)
        counted = max(int(np.count_nonzero(targets != ignore_index)), 1) if mean_over is None else mean_over
        loss_sum = output_loss(x.reshape(N, x.shape[2]), self.output_weight, p["output.bias"], targets.reshape(N),
                               ignore_index, 1.0 / counted, logits, dlogits)
        cache = (ForwardCache(tokens, input_mask, table is not None, layer_caches, masks, x, dlogits.reshape(T, B, V), ws)
                 if gradients else None)
        return loss_sum / counted, final_state, cache

    def backward(self, cache: Any, dstate: list | None = None) -> tuple[dict[str, np.ndarray], list]:
        """Gradients of the loss that forward returned (plus sum(final state * dstate), if a
        dstate is given, one per layer, for chaining or checking). Fills self.gradients in
        place and returns (self.gradients, gradient of the initial state, one per layer)."""
        tokens, input_mask, gathered, layer_caches, masks, x, dlogits, ws = cache  # a ForwardCache
        p, g = self.parameters, self.gradients
        dx = ws.empty("dx", x.shape, self.dtype)
        doutput = ws.empty("doutput_weight", p["embedding.weight"].shape, self.dtype) if self.tied else g["output.weight"]
        linear_backward(dlogits, x, self.output_weight, dx, doutput, g["output.bias"])
        dstate0: list = [None] * len(self.layers)
        for k in reversed(range(len(self.layers))):
            layer, layer_ws = self.layers[k], ws.child(k)
            grads = {name: g[f"rnn.{name}_l{k}"] for name in layer.params}
            dy = dx if masks[k] is None else np.multiply(dx, masks[k], out=layer_ws.empty("ddropped", dx.shape, self.dtype))
            layer_dstate = None if dstate is None else dstate[k]
            if k == 0 and (self.one_hot or gathered):
                dxproj, dstate0[k], _ = layer.backward_projected(dy, layer_dstate, layer_caches[k], grads, layer_ws)
                dtable = grads["weight_ih"].T if self.one_hot else ws.empty(
                    "dprojection_table", (self.vocab_size, dxproj.shape[2]), self.dtype)
                dtable[...] = 0
                scatter_add_rows(dxproj, tokens, dtable)
                if gathered:  # back through _projection_table's linear_forward of the embedding
                    linear_backward(dtable[None], p["embedding.weight"][None], layer.params["weight_ih"],
                                    g["embedding.weight"][None], grads["weight_ih"], grads["bias_ih"])
                else:
                    column_sums(dxproj.reshape(-1, dxproj.shape[2]), grads["bias_ih"])
            else:
                _, dx, dstate0[k] = layer.backward(dy, layer_dstate, layer_caches[k], grads, layer_ws)
        if self.one_hot:
            return g, dstate0
        dembedding = g["embedding.weight"]  # written already, from the table, if gathered
        if not gathered:
            if input_mask is not None:
                dx *= input_mask
            dembedding[...] = doutput if self.tied else 0
            scatter_add_rows(dx, tokens, dembedding)
        elif self.tied:
            dembedding += doutput
        return g, dstate0

    def _projection_table(self, rows, input_mask, ws):
        """An embedding's projection by layer 0 for every vocabulary entry, embedding @
        weight_ih.T + bias_ih (V, G*H), when gathering a row of it per token is cheaper than
        projecting the tokens' embeddings: when the tokens of this forward (rows; a process's
        share of the batch under seqkit.training.group) are TOKENS_AN_ENTRY_TO_GATHER or more a
        vocabulary entry and no input dropout mask is drawn (evaluation draws none), so that the
        projection and its two gradients are products of V rows instead of T * B. None
        otherwise, and for one-hot input, whose projection is a row of weight_ih.T already."""
        if self.one_hot or input_mask is not None or TOKENS_AN_ENTRY_TO_GATHER * self.vocab_size > rows:
            return None
        weight, bias = self.layers[0].params["weight_ih"], self.layers[0].params["bias_ih"]
        table = ws.empty("projection_table", (self.vocab_size, weight.shape[0]), self.dtype)
        linear_forward(self.parameters["embedding.weight"][None], weight, bias, table[None])
        return table

    def step(self, tokens: np.ndarray, state: list | None = None) -> tuple[np.ndarray, list]:
        """One time step for sampling, no dropout: tokens (B,) in, (logits (B, V), next state)
        out. It runs the same compiled cell steps as forward."""
        tokens = self._check_tokens("tokens", tokens, ndim=1)
        state = self.initial_state(len(tokens)) if state is None else state
        p = self.parameters
        next_state = []
        x: Any = None if self.one_hot else p["embedding.weight"][tokens]
        for k, layer in enumerate(self.layers):
            if x is None:
                xproj = layer.params["weight_ih"].T[tokens] + layer.params["bias_ih"]
                x, layer_state = layer.step_projected(xproj, state[k])
            else:
                x, layer_state = layer.step(x, state[k])
            next_state.append(layer_state)
        logits = np.empty((1, len(tokens), self.vocab_size), self.dtype)
        linear_forward(x[None], self.output_weight, p["output.bias"], logits)
        return logits[0], next_state

    # --- states as plain arrays, for checkpoints -----------------------------------------------------
    def state_arrays(self, state):
        """The state (one per layer, as forward returns it) as a list of tuples of (B, H) arrays."""
        return [layer.state_arrays(layer_state) for layer, layer_state in zip(self.layers, state)]

    def pack_state(self, arrays):
        """The inverse of state_arrays: a state that forward takes."""
        return [layer.pack_state(list(layer_arrays)) for layer, layer_arrays in zip(self.layers, arrays)]

    # --- PyTorch's names ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters under the names of pytorch/examples' word_language_model (an
        nn.Embedding `encoder`, an nn.RNN/LSTM/GRU `rnn`, an nn.Linear `decoder`): encoder.weight
        (absent with one-hot input, where rnn.weight_ih_l0 is (G*H, V)), rnn.weight_ih_l0 ...
        rnn.bias_hh_l{L-1}, decoder.weight, decoder.bias. The arrays are the model's own."""
        named = {TORCH_NAMES.get(name, name): array for name, array in self.parameters.items()}
        return {**named, "decoder.weight": self.output_weight} if self.tied else named

    def load_state_dict(self, state_dict: Mapping[str, ArrayLike]) -> None:
        """Copy in a state_dict with those names (a torch model's, converted with .numpy(), loads
        as is). Every name and shape must match; values are converted to the model's dtype."""
        ours = self.state_dict()
        missing, unexpected = sorted(set(ours) - set(state_dict)), sorted(set(state_dict) - set(ours))
        if missing or unexpected:
            raise KeyError(f"state dict does not match the model: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
        for name, array in ours.items():
            if np.shape(state_dict[name]) != array.shape:
                raise ValueError(f"{name} has shape {np.shape(state_dict[name])}, expected {array.shape}")
        for name, array in ours.items():
            np.copyto(array, np.asarray(state_dict[name]), casting="same_kind")

    def _dropout_mask(self, shape, rng, ws, rate, streams=None):
        """Inverted dropout of `rate` for activations of `shape` (T, B, F): units kept with
        probability 1 - rate and scaled by 1 / (1 - rate), so the expected activation is unchanged
        and evaluation needs no rescaling. Variational: one (1, B, F) mask for all T steps. None
        when off. streams (first, stop, total): draw for all `total` streams, keep first:stop."""
        if rng is None or rate == 0.0:
            return None
        shape = (1, *shape[1:]) if self.variational else shape
        first, stop, total = streams or (0, shape[1], shape[1])
        draws = rng.random(out=ws.empty("dropout_draws", (shape[0], total, shape[2]), np.float64))[:, first:stop]
        mask = np.greater_equal(draws, rate, out=ws.empty("dropout_mask", shape, self.dtype))
        mask /= self.dtype.type(1.0 - rate)
        return mask

    def _check_tokens(self, name, tokens, shape=None, ndim=2):
        tokens = np.asarray(tokens)
        if tokens.dtype.kind not in "iu" or tokens.ndim != ndim or tokens.size == 0:
            raise ValueError(f"{name} must be a non-empty {ndim}-d integer array, got "
                             f"{tokens.dtype} of shape {tokens.shape}")
        if shape is not None and tokens.shape != shape:
            raise ValueError(f"{name} has shape {tokens.shape}, expected {shape}")
        if tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise ValueError(f"{name} holds ids outside [0, {self.vocab_size})")
        # One integer type for the kernels, whatever the corpus is stored in, so they compile once.
        return np.ascontiguousarray(tokens, dtype=np.int64)
