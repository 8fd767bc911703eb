"""seqkit: recurrent language models (RNN, LSTM, GRU) compiled with Numba.

The cells follow PyTorch's equations, gate order and parameter names, so weights move between
the two. Importing seqkit imports numpy and numba only (not click).
"""
__version__ = "0.1.0"

from seqkit.model import Model
from seqkit.recurrent import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU", "Model", "__version__"]
