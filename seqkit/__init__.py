"""seqkit: recurrent language models (RNN, LSTM, GRU) compiled with Numba.

The cells follow PyTorch's equations, gate order and parameter names, so weights move between
the two. Importing seqkit never imports click: the command line lives in seqkit.cli.
"""
__version__ = "0.1.0"

from seqkit._cores import share_cores

share_cores()  # before NumPy and SciPy load their BLAS: under mpiexec, each process its share

from seqkit import cells  # noqa: E402
from seqkit.config import TrainConfig
from seqkit.vocab import TextOptions, Vocab
from seqkit.lm import LanguageModel, load
from seqkit.model import Model
from seqkit.nn import Dropout, Embedding, Linear, named, softmax_cross_entropy
from seqkit.optim import OPTIMIZERS, clip_global_norm, make_optimizer
from seqkit.recurrent import GRU, LSTM, RNN, Recurrent
from seqkit.trainer import Trainer
from seqkit.workspace import Workspace
from seqkit.api import train

__all__ = ["cells", "RNN", "LSTM", "GRU", "Recurrent", "Model", "Vocab", "TextOptions", "TrainConfig", "Trainer",
           "LanguageModel", "load", "train", "Workspace", "Linear", "Embedding", "Dropout", "softmax_cross_entropy",
           "named", "make_optimizer", "OPTIMIZERS", "clip_global_norm", "__version__"]
