"""The training layer: the truncated-BPTT loop and what runs around it (evaluation, the memory
check, resuming, fine-tuning, the run's streams, training in a group of processes)."""
from seqkit.training.trainer import Trainer

__all__ = ["Trainer"]
