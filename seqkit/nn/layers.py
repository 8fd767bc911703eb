"""Building blocks for your own models, with the recurrent layers' contract: parameters in
`.params` (a dict name -> array, PyTorch's names and shapes), `forward(...) -> (output, cache)`
and `backward(grad, cache) -> (grads, grad_input)`, grads a dict parallel to `.params`.

They call the kernels the language model runs (seqkit.nn.kernels). The dtype is float32 by default
or float64 when asked, and inputs must match it: nothing is cast behind the caller's back. To
train several blocks with one optimizer, `named` gives their parameters (and then their
gradients) as one dict:

    params = named(lstm=lstm, head=head)               # "lstm.weight_ih", ..., "head.bias"
    opt = seqkit.make_optimizer("adam", params, lr=1e-2)
    opt.step(named(lstm=lstm_grads, head=head_grads))
"""
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from seqkit._checks import check_array, check_count, check_dtype
from seqkit.nn.init import uniform
from seqkit.nn.kernels import gather_rows, linear_backward, linear_forward, scatter_add_rows
from seqkit.nn.kernels import softmax_cross_entropy as _softmax_cross_entropy

__all__ = ["Linear", "Embedding", "Dropout", "softmax_cross_entropy", "named"]

Grads = dict[str, np.ndarray]  # parallel to a layer's .params
Seed = int | np.random.Generator | None


def named(**parts: Any) -> dict[str, np.ndarray]:
    """One dict over several blocks: named(lstm=lstm, head=head) maps "lstm.weight_ih", ...,
    "head.weight", "head.bias" to the blocks' own arrays (views, not copies: an optimizer over it
    updates the blocks). Each part is a block (its .params is taken) or a dict, such as the
    grads its backward returned, so named(lstm=lstm_grads, head=head_grads) names the gradients
    the same way."""
    merged = {}
    for prefix, part in parts.items():
        arrays = part if isinstance(part, dict) else getattr(part, "params", None)
        if not isinstance(arrays, dict):
            raise TypeError(f"{prefix} must be a layer (with .params) or a dict of arrays, "
                            f"got {type(part).__name__}")
        merged.update({f"{prefix}.{name}": array for name, array in arrays.items()})
    return merged


class Layer:
    """What the blocks share: loading PyTorch-named weights into .params."""

    params: dict[str, np.ndarray]

    def load_state_dict(self, state_dict: Mapping[str, ArrayLike]) -> None:
        """Copy in arrays with the names and shapes of .params (an nn.Linear's or nn.Embedding's
        state_dict converted with .numpy() loads as is); values become this layer's dtype."""
        missing, unexpected = sorted(set(self.params) - set(state_dict)), sorted(set(state_dict) - set(self.params))
        if missing or unexpected:
            raise KeyError(f"state dict does not match {self!r}: missing {missing}, unexpected {unexpected}")
        for name, array in self.params.items():
            if np.shape(state_dict[name]) != array.shape:
                raise ValueError(f"{name} has shape {np.shape(state_dict[name])}, expected {array.shape}")
        for name, array in self.params.items():
            np.copyto(array, np.asarray(state_dict[name]), casting="same_kind")


def _check_features(name, x, features, dtype):
    """x (..., features) of `dtype`, as a C-contiguous array: any number of leading axes."""
    return check_array(name, x, (None,) * (np.ndim(x) - 1) + (features,), dtype)


def _check_ids(name, ids, size):
    """Integer ids of any shape, each in [0, size), as int64 (the kernels compile for one type)."""
    if not isinstance(ids, np.ndarray) or ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a numpy integer array, got "
                        f"{getattr(ids, 'dtype', type(ids).__name__)}")
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        raise ValueError(f"{name} holds ids outside [0, {size})")
    return ids.astype(np.int64, order="C", copy=False)  # a 0-d array stays 0-d


class Linear(Layer):
    """y = x @ weight.T + bias, over the last axis of x (..., in_features), as nn.Linear:
    weight (out_features, in_features) and bias (out_features,), both from U(+-1/sqrt(in_features))."""

    def __init__(self, in_features: int, out_features: int, dtype: DTypeLike = np.float32, seed: Seed = None,
                 bias: bool = True) -> None:
        """seed: int, None or a np.random.Generator. bias=False leaves the bias out of .params."""
        self.in_features = check_count("in_features", in_features)
        self.out_features = check_count("out_features", out_features)
        self.dtype = check_dtype(dtype)
        rng, bound = np.random.default_rng(seed), 1.0 / np.sqrt(self.in_features)
        self.params = {"weight": uniform(rng, (self.out_features, self.in_features), bound, self.dtype)}
        if bias:
            self.params["bias"] = uniform(rng, (self.out_features,), bound, self.dtype)

    def __repr__(self) -> str:
        return (f"Linear({self.in_features}, {self.out_features}, dtype=np.{self.dtype}"
                f"{'' if 'bias' in self.params else ', bias=False'})")

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """x (..., in_features) -> (y (..., out_features), cache): one matrix product over all rows."""
        x = _check_features("x", x, self.in_features, self.dtype)
        y = np.empty((*x.shape[:-1], self.out_features), self.dtype)
        bias = self.params.get("bias", np.zeros(self.out_features, self.dtype))
        # The kernel takes (T, B, I): every row as one batch, so all go through one matrix product.
        linear_forward(x.reshape(1, -1, self.in_features), self.params["weight"], bias,
                       y.reshape(1, -1, self.out_features))
        return y, x

    def backward(self, dy: np.ndarray, cache: Any) -> tuple[Grads, np.ndarray]:
        """dy (..., out_features), dLoss/dy -> (grads {"weight", "bias"}, dx (..., in_features))."""
        x = cache
        dy = check_array("dy", dy, (*x.shape[:-1], self.out_features), self.dtype)
        grads = {name: np.empty_like(p) for name, p in self.params.items()}
        dbias = grads.get("bias", np.empty(self.out_features, self.dtype))
        dx = np.empty_like(x)
        linear_backward(dy.reshape(1, -1, self.out_features), x.reshape(1, -1, self.in_features),
                        self.params["weight"], dx.reshape(1, -1, self.in_features), grads["weight"], dbias)
        return grads, dx


class Embedding(Layer):
    """A table of num_embeddings vectors, looked up by integer id, as nn.Embedding: weight
    (num_embeddings, embedding_dim) from N(0, 1)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: DTypeLike = np.float32,
                 seed: Seed = None) -> None:
        self.num_embeddings = check_count("num_embeddings", num_embeddings)
        self.embedding_dim = check_count("embedding_dim", embedding_dim)
        self.dtype = check_dtype(dtype)
        shape = (self.num_embeddings, self.embedding_dim)
        self.params = {"weight": np.random.default_rng(seed).standard_normal(shape).astype(self.dtype)}

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}, dtype=np.{self.dtype})"

    def forward(self, ids: np.ndarray) -> tuple[np.ndarray, Any]:
        """ids: an integer array of any shape, each in [0, num_embeddings) -> (x (*ids.shape,
        embedding_dim), cache)."""
        ids = _check_ids("ids", ids, self.num_embeddings)
        x = np.empty((*ids.shape, self.embedding_dim), self.dtype)
        gather_rows(ids.reshape(1, -1), self.params["weight"], x.reshape(1, -1, self.embedding_dim))
        return x, ids

    def backward(self, dx: np.ndarray, cache: Any) -> tuple[Grads, None]:
        """dx (*ids.shape, embedding_dim) -> (grads {"weight"}, None): ids have no gradient.
        Rows looked up more than once get the sum of their gradients."""
        ids = cache
        dx = check_array("dx", dx, (*ids.shape, self.embedding_dim), self.dtype)
        dweight = np.zeros_like(self.params["weight"])
        scatter_add_rows(dx.reshape(1, -1, self.embedding_dim), ids.reshape(1, -1), dweight)
        return {"weight": dweight}, None


class Dropout(Layer):
    """Inverted dropout, as nn.Dropout: in training each element is zeroed with probability p and
    the rest scaled by 1 / (1 - p), so evaluation needs no rescaling. No parameters (.params is
    empty); the masks come from the layer's own generator, seeded by `seed`."""

    def __init__(self, p: float = 0.5, seed: Seed = None) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p!r}")
        self.p, self.rng, self.params = float(p), np.random.default_rng(seed), {}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, x: np.ndarray, training: bool = True) -> tuple[np.ndarray, Any]:
        """x: a float32 or float64 array of any shape -> (y, cache). training=False (or p = 0)
        returns x itself and draws nothing."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
        dtype = check_dtype(x.dtype)
        if not training or self.p == 0.0:
            return x, (x.shape, dtype, None)
        mask = np.greater_equal(self.rng.random(x.shape), self.p).astype(dtype)
        mask /= dtype.type(1.0 - self.p)
        return x * mask, (x.shape, dtype, mask)

    def backward(self, dy: np.ndarray, cache: Any) -> tuple[Grads, np.ndarray]:
        """dy, shaped like the forward's x -> ({}, dx): the same mask applied to dy."""
        shape, dtype, mask = cache
        dy = check_array("dy", dy, shape, dtype)
        return {}, (dy if mask is None else dy * mask)


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray,
                          ignore_index: int = -100) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of softmax(logits) against targets, and its gradient, as
    torch.nn.functional.cross_entropy with reduction="mean", but with the classes on the LAST
    axis: logits (..., C) float32 or float64, targets (...) integers in [0, C) or equal to
    ignore_index; those count neither in the loss nor in the mean. Fused and computed stably
    (each row's maximum subtracted), the loss accumulated in float64.

    Returns (loss, a Python float; dlogits, shaped and typed like logits). When every target is
    ignored the loss is 0 and dlogits zero (PyTorch gives nan), so such a batch changes nothing."""
    if not isinstance(logits, np.ndarray) or logits.ndim == 0 or logits.dtype not in (np.float32, np.float64):
        raise TypeError(f"logits must be a float32 or float64 array (..., C), got "
                        f"{getattr(logits, 'dtype', type(logits).__name__)} of shape {np.shape(logits)}")
    C = logits.shape[-1]
    if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "iu":
        raise TypeError(f"targets must be a numpy integer array, got {getattr(targets, 'dtype', type(targets).__name__)}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets has shape {targets.shape}, expected {logits.shape[:-1]} (logits' without the classes)")
    counted = targets != ignore_index
    if np.any(targets[counted] < 0) or np.any(targets[counted] >= C):
        raise ValueError(f"targets holds classes outside [0, {C}) that are not ignore_index ({ignore_index})")
    rows = np.ascontiguousarray(logits).reshape(-1, C)
    dlogits = np.empty_like(rows)
    count = max(int(np.count_nonzero(counted)), 1)
    total = _softmax_cross_entropy(rows, np.ascontiguousarray(targets, dtype=np.int64).reshape(-1),
                                   int(ignore_index), 1.0 / count, dlogits)
    return total / count, dlogits.reshape(logits.shape)
