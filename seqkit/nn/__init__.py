"""The network layer: the recurrent layers around the cells, the blocks for models of your own
(Linear, Embedding, Dropout, softmax_cross_entropy, named) and the stacked language Model."""
from seqkit.nn.layers import Dropout, Embedding, Linear, named, softmax_cross_entropy
from seqkit.nn.model import Model
from seqkit.nn.recurrent import GRU, LSTM, RNN, Recurrent
from seqkit.nn.workspace import Workspace

__all__ = ["Linear", "Embedding", "Dropout", "softmax_cross_entropy", "named", "Recurrent", "RNN", "LSTM", "GRU",
           "Model", "Workspace"]
