"""Update rules, gradient clipping and learning-rate schedules.

Parameters and gradients are dicts name -> array (Model.parameters, Model.gradients). Every
optimizer follows torch.optim's documented algorithm for the same hyper-parameters
(SGD with dampening 0, Adagrad without lr decay, RMSprop non-centred without momentum, Adam
with bias correction and eps outside the square root), updates the parameters in place, keeps
their dtype, and saves its state as plain arrays plus JSON-able scalars.
"""
import numpy as np

from seqkit.checkpoint import copy_into

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
SCHEDULES = ("constant", "step", "plateau")


class Optimizer:
    """Base: holds the parameters, the learning rate (a schedule may change it) and the step
    count; subclasses name their per-parameter slots and implement _update."""

    slots = ()

    def __init__(self, params, lr, weight_decay=0.0, **hyper):
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got {lr}")
        if not weight_decay >= 0:
            raise ValueError(f"weight decay must be zero or positive, got {weight_decay}")
        self.params, self.lr, self.weight_decay, self.hyper = params, lr, weight_decay, hyper
        self.steps = 0
        self.state = {slot: {name: np.zeros_like(p) for name, p in params.items()} for slot in self.slots}

    def step(self, grads):
        """One update of every parameter from grads (same keys); grads are left unchanged."""
        self.steps += 1
        for name, param in self.params.items():
            grad = grads[name]
            if self.weight_decay:
                grad = grad + param.dtype.type(self.weight_decay) * param
            self._update(name, param, grad, param.dtype.type)

    def state_dict(self):
        """(arrays named "<slot>.<param name>", JSON-able scalars)."""
        arrays = {f"{slot}.{name}": a for slot, by_name in self.state.items() for name, a in by_name.items()}
        scalars = {"name": self.name, "lr": self.lr, "weight_decay": self.weight_decay,
                   "steps": self.steps, "hyper": self.hyper}
        return arrays, scalars

    def load_state_dict(self, arrays, scalars):
        """Restore what state_dict gave, bit for bit; a ValueError names the first mismatch."""
        if scalars.get("name") != self.name:
            raise ValueError(f"optimizer state is for {scalars.get('name')!r}, not {self.name!r}")
        copy_into(self.state_dict()[0], arrays, "the optimizer state")
        self.lr, self.weight_decay, self.steps = scalars["lr"], scalars["weight_decay"], scalars["steps"]
        self.hyper = dict(scalars["hyper"])


class SGD(Optimizer):
    """p -= lr * g."""
    name = "sgd"

    def _update(self, name, param, grad, cast):
        param -= cast(self.lr) * grad


class Momentum(Optimizer):
    """Heavy ball: b = momentum * b + g (b = g at the first step); p -= lr * b.
    With nesterov, p -= lr * (g + momentum * b)."""
    name, slots, nesterov = "momentum", ("momentum_buffer",), False

    def _update(self, name, param, grad, cast):
        buffer = self.state["momentum_buffer"][name]
        if self.steps == 1:
            buffer[...] = grad
        else:
            buffer *= cast(self.hyper["momentum"])
            buffer += grad
        direction = grad + cast(self.hyper["momentum"]) * buffer if self.nesterov else buffer
        param -= cast(self.lr) * direction


class Nesterov(Momentum):
    name, nesterov = "nesterov", True


class Adagrad(Optimizer):
    """s += g^2; p -= lr * g / (sqrt(s) + eps)."""
    name, slots = "adagrad", ("sum",)

    def _update(self, name, param, grad, cast):
        total = self.state["sum"][name]
        total += grad * grad
        param -= cast(self.lr) * grad / (np.sqrt(total) + cast(self.hyper["eps"]))


class RMSprop(Optimizer):
    """v = alpha * v + (1 - alpha) * g^2; p -= lr * g / (sqrt(v) + eps)."""
    name, slots = "rmsprop", ("square_avg",)

    def _update(self, name, param, grad, cast):
        alpha = self.hyper["alpha"]
        square_avg = self.state["square_avg"][name]
        square_avg *= cast(alpha)
        square_avg += cast(1 - alpha) * grad * grad
        param -= cast(self.lr) * grad / (np.sqrt(square_avg) + cast(self.hyper["eps"]))


class Adam(Optimizer):
    """m and v, the moving averages of g and g^2, bias-corrected by 1 - beta^t;
    p -= lr * m_hat / (sqrt(v_hat) + eps)."""
    name, slots = "adam", ("exp_avg", "exp_avg_sq")

    def _update(self, name, param, grad, cast):
        beta1, beta2, t = self.hyper["beta1"], self.hyper["beta2"], self.steps
        m, v = self.state["exp_avg"][name], self.state["exp_avg_sq"][name]
        m *= cast(beta1)
        m += cast(1 - beta1) * grad
        v *= cast(beta2)
        v += cast(1 - beta2) * grad * grad
        denominator = np.sqrt(v) / cast(np.sqrt(1 - beta2 ** t)) + cast(self.hyper["eps"])
        param -= cast(self.lr / (1 - beta1 ** t)) * m / denominator


_CLASSES = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSprop, Adam)}


def make_optimizer(name, params, lr, weight_decay=0.0, *, momentum=0.9, alpha=0.99, beta1=0.9,
                   beta2=0.999, eps=1e-8):
    """The optimizer `name` (one of OPTIMIZERS) over params, with only its own hyper-parameters."""
    if name not in _CLASSES:
        raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    hyper = {"momentum": {"momentum": momentum}, "nesterov": {"momentum": momentum},
             "adagrad": {"eps": eps}, "rmsprop": {"alpha": alpha, "eps": eps},
             "adam": {"beta1": beta1, "beta2": beta2, "eps": eps}}.get(name, {})
    return _CLASSES[name](params, lr, weight_decay, **hyper)


def global_norm(grads):
    """sqrt of the sum of squares of every gradient element, accumulated in float64."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_global_norm(grads, max_norm):
    """Scale all gradients in place so their global norm is at most max_norm (Pascanu et al.
    2013). Returns the norm before clipping; a non-finite norm leaves the gradients as they are."""
    norm = global_norm(grads)
    if np.isfinite(norm) and norm > max_norm:
        for g in grads.values():
            g *= g.dtype.type(max_norm / norm)
    return norm


def clip_value(grads, value):
    """Clamp every gradient element to [-value, value], in place."""
    for g in grads.values():
        np.clip(g, -value, value, out=g)


class Schedule:
    """The learning rate over training: constant; step (multiply by `decay` every `every`
    steps); or plateau (multiply by `decay` when the validation loss has not improved on the
    best for more than `patience` evaluations in a row, as Zaremba et al. 2014)."""

    def __init__(self, kind="constant", lr=1e-3, decay=1.0, every=0, patience=0):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}: expected one of {', '.join(SCHEDULES)}")
        if kind == "step" and every < 1:
            raise ValueError("the step schedule needs a positive number of steps between decays")
        if not 0 < decay <= 1:
            raise ValueError(f"the decay factor must be in (0, 1], got {decay}")
        self.kind, self.initial_lr, self.decay, self.every, self.patience = kind, lr, decay, every, patience
        self.lr, self.best, self.bad_evals = lr, None, 0

    def lr_at_step(self, step):
        """The learning rate for training step `step` (0-based)."""
        if self.kind == "step":
            return self.initial_lr * self.decay ** (step // self.every)
        return self.lr

    def observe_validation(self, val_loss):
        """Record a validation loss; True when the plateau schedule just decayed the rate."""
        if self.best is None or val_loss < self.best:
            self.best, self.bad_evals = val_loss, 0
            return False
        self.bad_evals += 1
        if self.kind == "plateau" and self.bad_evals > self.patience:
            self.lr *= self.decay
            self.bad_evals = 0
            return True
        return False

    def state_dict(self):
        return {"kind": self.kind, "lr": self.lr, "best": self.best, "bad_evals": self.bad_evals}

    def load_state_dict(self, d):
        if d["kind"] != self.kind:
            raise ValueError(f"schedule state is for {d['kind']!r}, not {self.kind!r}")
        self.lr, self.best, self.bad_evals = d["lr"], d["best"], d["bad_evals"]
