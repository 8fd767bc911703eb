"""Learning-rate schedules: the rate for each training step, with a JSON-able state for checkpoints."""
import math

SCHEDULES = ("constant", "step", "plateau")


class Schedule:
    """The learning rate over training: "constant"; "step" (lr * decay ** (step // every)); or
    "plateau" (multiply by `decay` when the validation loss has not improved on the best seen for
    more than `patience` evaluations in a row, as Zaremba et al. 2014 divide the rate). Its state
    is JSON-able, for checkpoints."""

    def __init__(self, kind="constant", lr=1e-3, decay=1.0, every=0, patience=0):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}: expected one of {', '.join(SCHEDULES)}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be positive, got {lr}")
        if not 0 < decay <= 1:
            raise ValueError(f"the decay factor must be in (0, 1], got {decay}")
        if kind == "step" and not every >= 1:
            raise ValueError(f"the step schedule needs a positive number of steps between decays, "
                             f"got {every}")
        if not patience >= 0:
            raise ValueError(f"patience must be zero or positive, got {patience}")
        self.kind, self.initial_lr, self.decay = kind, float(lr), float(decay)
        self.every, self.patience = int(every), int(patience)
        self.lr, self.best, self.bad_evals = float(lr), None, 0

    def lr_at_step(self, step):
        """The learning rate for training step `step` (0-based); for plateau, the current rate."""
        if self.kind == "step":
            return self.initial_lr * self.decay ** (step // self.every)
        return self.lr

    def observe_validation(self, val_loss):
        """Record a validation loss; True when the plateau schedule has just decayed the rate.
        A NaN loss counts as no improvement."""
        if self.kind != "plateau":
            return False
        if not math.isnan(val_loss) and (self.best is None or val_loss < self.best):
            self.best, self.bad_evals = float(val_loss), 0
            return False
        self.bad_evals += 1
        if self.bad_evals > self.patience:
            self.lr *= self.decay
            self.bad_evals = 0
            return True
        return False

    def state_dict(self):
        return {"kind": self.kind, "initial_lr": self.initial_lr, "decay": self.decay,
                "every": self.every, "patience": self.patience,
                "lr": self.lr, "best": self.best, "bad_evals": self.bad_evals}

    def load_state_dict(self, d):
        """Restore what state_dict gave; a schedule of another kind is refused."""
        if d.get("kind") != self.kind:
            raise ValueError(f"schedule state is for {d.get('kind')!r}, not {self.kind!r}")
        missing = set(self.state_dict()) - set(d)
        if missing:
            raise ValueError(f"schedule state lacks {', '.join(sorted(missing))}")
        self.initial_lr, self.decay, self.lr = float(d["initial_lr"]), float(d["decay"]), float(d["lr"])
        self.every, self.patience = int(d["every"]), int(d["patience"])
        self.bad_evals = int(d["bad_evals"])
        self.best = None if d["best"] is None else float(d["best"])
