"""Learning-rate schedules: the rate for each training step, with a JSON-able state for checkpoints.

    constant  lr
    step      lr * decay ** (step // every)
    epoch     lr for the first `after` epochs, then multiplied by decay after each epoch
              (Zaremba et al. 2014: "keep lr 1 for 4 epochs, then halve it each epoch")
    plateau   lr multiplied by decay when the validation loss has not improved on the best seen
              for more than `patience` evaluations in a row
    cosine    from lr down to lr * floor along half a cosine, over the run's progress (0 at the
              start, 1 when its first stopping rule is reached: steps, epochs or minutes)

Any of them can start with a linear warm-up: over the first `warmup` steps the rate rises from
lr / warmup to the schedule's rate.
"""
import math

SCHEDULES = ("constant", "step", "epoch", "plateau", "cosine")


class Schedule:
    """The learning rate over training; its state is JSON-able, for checkpoints."""

    def __init__(self, kind="constant", lr=1e-3, decay=1.0, every=0, patience=0, warmup=0, floor=0.1, after=0):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}: expected one of {', '.join(SCHEDULES)}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be positive, got {lr}")
        if not 0 < decay <= 1:
            raise ValueError(f"the decay factor must be in (0, 1], got {decay}")
        if kind == "step" and not every >= 1:
            raise ValueError(f"the step schedule needs a positive number of steps between decays, "
                             f"got {every}")
        for name, value in (("patience", patience), ("warmup", warmup), ("after", after)):
            if not value >= 0:
                raise ValueError(f"{name} must be zero or positive, got {value}")
        if not 0 <= floor <= 1:
            raise ValueError(f"the floor must be in [0, 1], got {floor}")
        self.kind, self.initial_lr, self.decay = kind, float(lr), float(decay)
        self.every, self.patience = int(every), int(patience)
        self.warmup, self.floor, self.after = int(warmup), float(floor), int(after)
        self.lr, self.best, self.bad_evals = float(lr), None, 0

    def lr_at(self, step, epoch=0, progress=0.0):
        """The rate for training step `step` (0-based), in epoch `epoch` (0-based), at `progress`
        in [0, 1] of the run; for plateau, the current rate."""
        if self.kind == "step":
            lr = self.initial_lr * self.decay ** (step // self.every)
        elif self.kind == "epoch":
            lr = self.initial_lr * self.decay ** max(0, epoch + 1 - self.after)
        elif self.kind == "cosine":
            share = 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
            lr = self.initial_lr * (self.floor + (1 - self.floor) * share)
        else:
            lr = self.lr
        return lr * (step + 1) / self.warmup if step < self.warmup else lr

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
        """What a checkpoint keeps. The options a 0.1.0 schedule had are always there; the newer
        ones only where they are not their defaults, so a run with 0.1.0's options writes
        0.1.0's bytes."""
        d = {"kind": self.kind, "initial_lr": self.initial_lr, "decay": self.decay,
             "every": self.every, "patience": self.patience,
             "lr": self.lr, "best": self.best, "bad_evals": self.bad_evals}
        newer = {"warmup": (self.warmup, 0), "floor": (self.floor, 0.1), "after": (self.after, 0)}
        d.update({name: value for name, (value, default) in newer.items() if value != default})
        return d

    def resume_from(self, d):
        """Continue from state_dict's d. Where d's options differ from this schedule's (a resume
        that changed them), this schedule keeps its own and takes only the progress: the best
        validation loss, the evaluations since it, and plateau's decayed rate if --lr stayed."""
        if _options(d) == _options(self.state_dict()):
            self.load_state_dict(d)
            return
        self.best = None if d.get("best") is None else float(d["best"])
        self.bad_evals = int(d.get("bad_evals", 0))
        if d.get("kind") == self.kind == "plateau" and float(d.get("initial_lr", 0)) == self.initial_lr:
            self.lr = float(d["lr"])

    def load_state_dict(self, d):
        """Restore what state_dict gave; a schedule of another kind is refused."""
        if d.get("kind") != self.kind:
            raise ValueError(f"schedule state is for {d.get('kind')!r}, not {self.kind!r}")
        missing = {"initial_lr", "decay", "every", "patience", "lr", "best", "bad_evals"} - set(d)
        if missing:
            raise ValueError(f"schedule state lacks {', '.join(sorted(missing))}")
        self.initial_lr, self.decay, self.lr = float(d["initial_lr"]), float(d["decay"]), float(d["lr"])
        self.every, self.patience = int(d["every"]), int(d["patience"])
        self.warmup, self.floor, self.after = int(d.get("warmup", 0)), float(d.get("floor", 0.1)), int(d.get("after", 0))
        self.bad_evals = int(d["bad_evals"])
        self.best = None if d["best"] is None else float(d["best"])



def schedule_for(config):
    """The learning-rate schedule a run of TrainConfig `config` starts with."""
    return Schedule(config.lr_schedule, lr=config.lr, decay=config.lr_decay, every=config.lr_decay_every,
                    patience=config.patience, warmup=config.warmup, floor=config.lr_floor, after=config.lr_decay_after)


def _options(d):
    """The options in a state_dict, newer ones at their defaults where left out."""
    return (d.get("kind"), d.get("initial_lr"), d.get("decay"), d.get("every"), d.get("patience"),
            d.get("warmup", 0), d.get("floor", 0.1), d.get("after", 0))
