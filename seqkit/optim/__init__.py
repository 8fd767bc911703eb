"""The optimisation layer: update rules, gradient clipping and learning-rate schedules."""
from seqkit.optim.optimizers import OPTIMIZERS, clip_global_norm, make_optimizer
from seqkit.optim.schedules import SCHEDULES, Schedule

__all__ = ["OPTIMIZERS", "make_optimizer", "clip_global_norm", "SCHEDULES", "Schedule"]
