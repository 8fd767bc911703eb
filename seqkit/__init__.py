"""seqkit: recurrent language models (RNN, LSTM, GRU) compiled with Numba.

The cells follow PyTorch's equations, gate order and parameter names, so weights move between
the two. This module is the public face only: it re-exports what users import, and no module
of seqkit imports it. Importing seqkit never imports click: the command line lives in seqkit.cli.
"""
from seqkit._cores import share_cores

share_cores()  # before NumPy and SciPy load their BLAS: under mpiexec, each process its share

from seqkit import cells
from seqkit._version import __version__
from seqkit.api import train
from seqkit.config import TrainConfig
from seqkit.errors import CheckpointError, OptionError, SeqkitError, TrainingError
from seqkit.lm import LanguageModel, load
from seqkit.nn import (
           GRU,
           LSTM,
           RNN,
           Dropout,
           Embedding,
           Linear,
           Model,
           Recurrent,
           Workspace,
           named,
           softmax_cross_entropy,
)
from seqkit.optim import OPTIMIZERS, clip_global_norm, make_optimizer
from seqkit.text import TextOptions, Vocab
from seqkit.training import Trainer

__all__ = ["cells", "RNN", "LSTM", "GRU", "Recurrent", "Model", "Vocab", "TextOptions", "TrainConfig", "Trainer",
           "LanguageModel", "load", "train", "Workspace", "Linear", "Embedding", "Dropout", "softmax_cross_entropy",
           "named", "make_optimizer", "OPTIMIZERS", "clip_global_norm", "SeqkitError", "OptionError",
           "CheckpointError", "TrainingError", "__version__"]
