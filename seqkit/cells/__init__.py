"""The cell layer: the registry of recurrent cells (seqkit.cells.registry, where the kernels'
contract is written) and one module per built-in cell, each with its four kernels. Adding a
cell is one module and one call to register, from seqkit or from a package of its own."""
from seqkit.cells import gru, lstm, rnn
from seqkit.cells.registry import ENTRY_POINT_GROUP, Cell, Kernels, get, names, option_choices, option_known, register

for _module in (rnn, lstm, gru):
    register(_module.CELL)

__all__ = ["Cell", "Kernels", "register", "get", "names", "option_known", "option_choices", "ENTRY_POINT_GROUP"]
