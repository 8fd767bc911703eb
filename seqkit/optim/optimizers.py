"""Update rules and gradient clipping.

Parameters and gradients are dicts name -> array (Model.parameters, Model.gradients). Every
optimizer follows the pseudo-code in torch.optim's documentation for the same hyper-parameters
(SGD with dampening 0, Adagrad without lr decay, RMSprop non-centred without momentum, Adam with
bias correction and eps outside the square root), in the same order of operations, so a PyTorch
user's settings mean the same here. Updates are in place (the model holds the arrays), in each
array's own dtype, and go through two scratch buffers per dtype rather than fresh temporaries.
"""
import math
from typing import Mapping

import numpy as np

from seqkit._checks import copy_into
from seqkit._jit import kernel

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


class Optimizer:
    """Base: holds params (the dict), lr (a float the schedule may change), weight_decay and the
    step count; subclasses name their per-parameter state slots and implement _update."""

    name: str | None = None
    slots: tuple[str, ...] = ()
    overwrites_gradient = True  # _update writes into g: it must get a copy, never the caller's array

    def __init__(self, params, lr, weight_decay=0.0, **hyper):
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be positive, got {lr}")
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight decay must be zero or positive, got {weight_decay}")
        for name, p in params.items():
            if not (isinstance(p, np.ndarray) and p.dtype in (np.float32, np.float64)
                    and p.flags.c_contiguous and p.flags.writeable):
                raise ValueError(f"parameter {name} must be a writeable C-contiguous float32 or float64 "
                                 f"array, got {type(p).__name__} {getattr(p, 'dtype', '')}")
        self.params, self.lr, self.weight_decay, self.steps = params, float(lr), float(weight_decay), 0
        self.hyper = {k: float(v) for k, v in hyper.items()}
        self.state = {slot: {name: np.zeros_like(p) for name, p in params.items()} for slot in self.slots}
        # Two flat buffers per dtype, as long as the largest parameter; each parameter gets views.
        longest = {}
        for p in params.values():
            longest[p.dtype] = max(longest.get(p.dtype, 0), p.size)
        flat = {dtype: (np.empty(n, dtype), np.empty(n, dtype)) for dtype, n in longest.items()}
        self._scratch = {name: tuple(b[:p.size].reshape(p.shape) for b in flat[p.dtype])
                         for name, p in params.items()}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """One update of every parameter from grads (same keys and shapes), which are left as
        they are: weight decay adds weight_decay * p to a copy of the gradient."""
        if grads.keys() != self.params.keys():
            missing, unexpected = set(self.params) - set(grads), set(grads) - set(self.params)
            raise ValueError(f"gradients do not match the parameters: missing {sorted(missing)[:3]}, "
                             f"unexpected {sorted(unexpected)[:3]}")
        for name, p in self.params.items():
            if np.shape(grads[name]) != p.shape:
                raise ValueError(f"gradient {name} has shape {np.shape(grads[name])}, expected {p.shape}")
        self.steps += 1
        for name, p in self.params.items():
            cast, grad = p.dtype.type, grads[name]
            g, spare = self._scratch[name]
            if self.weight_decay:
                np.multiply(p, cast(self.weight_decay), out=g)
                g += grad
            elif (self.overwrites_gradient or not isinstance(grad, np.ndarray) or grad.dtype != p.dtype
                  or not grad.flags.c_contiguous):
                np.copyto(g, grad)
            else:  # read in place: a copy would be one more pass over every gradient
                g = grad
            self._update(name, p, g, spare, cast)

    def _update(self, name, p, g, spare, cast):
        """Update p in place from g, the weight-decayed gradient: a scratch array that may be
        overwritten, or with overwrites_gradient False possibly the caller's own gradient, to
        read only. spare is a second scratch array of the same shape."""
        raise NotImplementedError

    def state_dict(self):
        """(arrays, scalars): copies of the per-parameter state named "<slot>.<param name>", and a
        JSON-able dict of the name, lr, weight decay, step count and hyper-parameters."""
        arrays = {key: a.copy() for key, a in self._named_state().items()}
        scalars = {"name": self.name, "lr": float(self.lr), "weight_decay": self.weight_decay,
                   "steps": self.steps, **self.hyper}
        return arrays, scalars

    def load_state_dict(self, arrays, scalars):
        """Restore what state_dict gave, bit for bit. Nothing changes unless every name, shape and
        dtype matches; a ValueError names the first mismatch."""
        if scalars.get("name") != self.name:
            raise ValueError(f"optimizer state is for {scalars.get('name')!r}, not {self.name!r}")
        expected = {"name", "lr", "weight_decay", "steps", *self.hyper}
        if set(scalars) != expected:
            raise ValueError(f"optimizer scalars do not match: missing {sorted(expected - set(scalars))}, "
                             f"unexpected {sorted(set(scalars) - expected)}")
        copy_into(self._named_state(), arrays, "the optimizer state")
        self.lr, self.weight_decay = float(scalars["lr"]), float(scalars["weight_decay"])
        self.steps, self.hyper = int(scalars["steps"]), {k: float(scalars[k]) for k in self.hyper}

    def _named_state(self):
        return {f"{slot}.{name}": a for slot, by_name in self.state.items() for name, a in by_name.items()}


class SGD(Optimizer):
    """p = p - lr * g."""
    name = "sgd"

    def _update(self, name, p, g, spare, cast):
        g *= cast(self.lr)
        p -= g


class Momentum(Optimizer):
    """Heavy ball: b = momentum * b + g (b = g at the first step); p = p - lr * b.
    Nesterov: the same b, then p = p - lr * (g + momentum * b)."""
    name, slots, nesterov = "momentum", ("momentum_buffer",), False

    def _update(self, name, p, g, spare, cast):
        momentum, buffer = cast(self.hyper["momentum"]), self.state["momentum_buffer"][name]
        if self.steps == 1:
            np.copyto(buffer, g)
        else:
            buffer *= momentum
            buffer += g
        if self.nesterov:
            np.multiply(buffer, momentum, out=spare)
            g += spare
        else:
            np.copyto(g, buffer)
        g *= cast(self.lr)
        p -= g


class Nesterov(Momentum):
    name, nesterov = "nesterov", True


class Adagrad(Optimizer):
    """s = s + g^2; p = p - lr * g / (sqrt(s) + eps)."""
    name, slots = "adagrad", ("sum",)

    def _update(self, name, p, g, spare, cast):
        total = self.state["sum"][name]
        np.multiply(g, g, out=spare)
        total += spare
        _descend(p, g, total, spare, cast(self.lr), cast(self.hyper["eps"]))


class RMSprop(Optimizer):
    """v = alpha * v + (1 - alpha) * g^2; p = p - lr * g / (sqrt(v) + eps)."""
    name, slots = "rmsprop", ("square_avg",)

    def _update(self, name, p, g, spare, cast):
        alpha, square_avg = self.hyper["alpha"], self.state["square_avg"][name]
        square_avg *= cast(alpha)
        np.multiply(g, g, out=spare)
        spare *= cast(1 - alpha)
        square_avg += spare
        _descend(p, g, square_avg, spare, cast(self.lr), cast(self.hyper["eps"]))


def _descend(p, g, second_moment, spare, lr, eps):
    """p = p - lr * g / (sqrt(second_moment) + eps), overwriting g and spare."""
    np.sqrt(second_moment, out=spare)
    spare += eps
    g *= lr
    g /= spare
    p -= g


class Adam(Optimizer):
    """m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2; bias-corrected
    m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t); p = p - lr * m_hat / (sqrt(v_hat) + eps)."""
    name, slots = "adam", ("exp_avg", "exp_avg_sq")
    overwrites_gradient = False

    def _update(self, name, p, g, spare, cast):
        beta1, beta2, t = self.hyper["beta1"], self.hyper["beta2"], self.steps
        m, v = self.state["exp_avg"][name], self.state["exp_avg_sq"][name]
        adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), cast(self.lr), cast(beta1),
                    cast(1 - beta1), cast(beta2), cast(1 - beta2), cast(1 - beta1 ** t), cast(1 - beta2 ** t),
                    cast(self.hyper["eps"]))


@kernel
def adam_update(p, g, m, v, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, correction1, correction2, eps):
    """Adam's step in one pass over 1-d arrays, in the arrays' dtype, with the operations in the
    order the class docstring gives them: one pass over memory where NumPy would make ten."""
    for k in range(p.size):
        m[k] = m[k] * beta1 + g[k] * one_minus_beta1
        v[k] = v[k] * beta2 + g[k] * g[k] * one_minus_beta2
        p[k] -= m[k] / correction1 * lr / (np.sqrt(v[k] / correction2) + eps)


_CLASSES = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSprop, Adam)}
_HYPER = {"sgd": (), "momentum": ("momentum",), "nesterov": ("momentum",), "adagrad": ("eps",),
          "rmsprop": ("alpha", "eps"), "adam": ("beta1", "beta2", "eps")}
_NON_NEGATIVE, _BETA = (lambda x: x >= 0, "zero or positive"), (lambda x: 0 <= x < 1, "in [0, 1)")
_VALID = {"momentum": _NON_NEGATIVE, "alpha": _NON_NEGATIVE, "eps": _NON_NEGATIVE,
          "beta1": _BETA, "beta2": _BETA}


def make_optimizer(name: str, params: Mapping[str, np.ndarray], lr: float, weight_decay: float = 0.0, *,
                   momentum: float = 0.9, alpha: float = 0.99, beta1: float = 0.9, beta2: float = 0.999,
                   eps: float = 1e-8) -> Optimizer:
    """The optimizer `name` (one of OPTIMIZERS) over params, keeping only its own hyper-parameters,
    which are checked as torch.optim checks them."""
    if name not in _CLASSES:
        raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    given = dict(momentum=momentum, alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)
    hyper = {key: given[key] for key in _HYPER[name]}
    for key, value in hyper.items():
        ok, expected = _VALID[key]
        if not (math.isfinite(value) and ok(value)):
            raise ValueError(f"{key} must be {expected} for {name}, got {value}")
    if name == "nesterov" and momentum <= 0:
        raise ValueError(f"nesterov needs a positive momentum, got {momentum}")
    return _CLASSES[name](params, lr, weight_decay, **hyper)


def optimizer_for(config, parameters: Mapping[str, np.ndarray]) -> Optimizer:
    """The optimizer a run of TrainConfig `config` starts with, over `parameters`."""
    return make_optimizer(config.optimizer, parameters, config.lr, config.weight_decay, momentum=config.momentum,
                          alpha=config.alpha, beta1=config.beta1, beta2=config.beta2, eps=config.eps)


def state_slots(name):
    """How many arrays the size of the parameters optimizer `name` keeps (Adam: 2)."""
    return len(_CLASSES[name].slots)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every gradient element, accumulated in float64 whatever the
    arrays' dtype (float32 accumulation loses about 1e-6 of it over a million elements)."""
    return math.sqrt(sum(sum_of_squares(g.reshape(-1)) for g in grads.values()))


@kernel
def sum_of_squares(x):
    """The sum of x * x over a 1-d array, in float64. Sixteen running sums, one per lane, let
    LLVM vectorize the loop without reordering any one sum (no fastmath needed)."""
    lanes = np.zeros(16)
    whole = x.size - x.size % 16
    for start in range(0, whole, 16):
        for lane in range(16):
            value = np.float64(x[start + lane])
            lanes[lane] += value * value
    total = lanes.sum()
    for k in range(whole, x.size):
        total += np.float64(x[k]) * np.float64(x[k])
    return total


def clip_global_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place by max_norm / norm when their global norm exceeds max_norm
    (Pascanu et al. 2013), which keeps their direction. Returns the norm before clipping, for the
    log; a non-finite norm leaves the gradients as they are, for the caller to skip the step."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = global_norm(grads)
    if math.isfinite(norm) and norm > max_norm:
        for g in grads.values():
            g *= g.dtype.type(max_norm / norm)
    return norm


def clip_value(grads, value):
    """Clamp every gradient element to [-value, value], in place."""
    if not value > 0:
        raise ValueError(f"the clipping value must be positive, got {value}")
    for g in grads.values():
        np.clip(g, g.dtype.type(-value), g.dtype.type(value), out=g)
