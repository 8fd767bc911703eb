"""The cell registry: every recurrent cell seqkit knows, by name, and the one contract its
kernels keep (seqkit.cells registers the built-in ones). The model, the compiled sampler,
checkpoints and the CLI's --cell choices all read it; none of them names a cell.

Letters: T time steps, B batch, H hidden size, G gate blocks, S state arrays (h first; an
LSTM's state is (h, c), S = 2), N positions in a states array, C and K the widths of the
per-step cache and of backward's scratch. Every array is C-contiguous and of one float dtype;
`t` is an integer. Kernels return nothing: they write into the arrays they are given, in the
order inputs, weights, outputs, scratch.

    step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t)
        One step: reads xproj_t (B, G*H), the input already projected (x @ weight_ih.T +
        bias_ih), and the state states[:, t] of states (S, N, B, H); writes the next state
        states[:, t + 1] and cache_t (B, C), what step_backward needs of this step.
    step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t)
        Back through that step, given dstate (S, B, H) = dLoss/d(states[:, t + 1]): writes
        dxproj_t (B, G*H), the gradient of xproj_t (and of bias_ih), and dstate_prev (S, B, H),
        that of states[:, t]. scratch_t (B, K) is the cell's own.
    forward(xproj, states, weight_hh, bias_hh, cache)
        T steps: states (S, T + 1, B, H) holds the initial state in states[:, 0] and receives
        the state after each step, so the output is states[0, 1:]; cache (T, B, C).
    backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch)
        BPTT through forward, given dy (T, B, H) = dLoss/d(output) and dfinal (S, B, H) that of
        the final state: writes dxproj (T, B, G*H), dinitial (S, B, H), dweight_hh (G*H, H) and
        dbias_hh (G*H,); scratch (T, B, K) is the cell's own.

The step kernels are compiled (Numba); forward and backward may be compiled too or plain Python
functions that call compiled pieces (the built-in cells run their recurrence on weights packed
once per sequence, on threads of their own: seqkit.cells.recurrence and sharing). A cell may also give
pack(weight_hh) -> a 2-d array, and step_packed, step_forward's signature taking that array
for weight_hh: the sampler then steps on weights it packs once.

The compiled sampler calls step_forward (or step_packed) through a first-class function
pointer, so a cell added from outside seqkit samples at compiled speed with no edit to seqkit. Cells from other
packages register through the entry-point group "seqkit.cells": an entry point that names a
Cell (`mycell = mypackage.cells:MY_CELL` in the package's metadata) is registered, under the
Cell's name, the first time the registry is read.
"""
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Callable, Mapping, NamedTuple

ENTRY_POINT_GROUP = "seqkit.cells"


class Kernels(NamedTuple):
    """The four kernels of a cell, with the signatures of the module docstring; and, optionally,
    the step on packed weights that the compiled sampler takes instead of step_forward: pack
    (weight_hh -> a 2-d array of its dtype, made once) and step_packed (step_forward's
    signature, with that array for weight_hh)."""
    step_forward: Callable
    step_backward: Callable
    forward: Callable
    backward: Callable
    pack: Callable | None = None
    step_packed: Callable | None = None


@dataclass(frozen=True)
class Cell:
    """What seqkit needs to know of a cell. Sizes are multiples of the hidden size H."""
    name: str                     # what --cell and config.json call it
    gates: int                    # G: weight_ih is (G*H, I), weight_hh (G*H, H)
    state_size: int               # S: (B, H) arrays in its state, h first
    kernels: Kernels
    cache_size: int = 0           # C = cache_size * H: per-step cache that backward reads
    scratch_size: int = 0         # K = scratch_size * H: backward's per-step scratch
    options: Mapping = field(default_factory=dict)  # cell-specific options and their defaults
    choices: Mapping = field(default_factory=dict)  # the allowed values of options that have a fixed set
    variants: Callable | None = None  # options -> Kernels, where an option picks the kernels (rnn's nonlinearity)
    initialize: Callable | None = None  # (params, hidden_size, **options): adjusts fresh parameters

    def kernels_for(self, options):
        """The kernels for these cell options (validated against `choices`)."""
        for name, allowed in self.choices.items():
            if options.get(name, self.options[name]) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)} for the {self.name} cell, "
                                 f"got {options.get(name)!r}")
        return self.variants(**{**self.options, **options}) if self.variants else self.kernels


_CELLS: dict[str, Cell] = {}
_plugins_loaded = False


def register(cell):
    """Add `cell` under its name; a name already taken by another cell is refused."""
    if not isinstance(cell, Cell):
        raise TypeError(f"register takes a seqkit.cells.Cell, got {type(cell).__name__}")
    if _CELLS.get(cell.name, cell) is not cell:
        raise ValueError(f"a cell named {cell.name!r} is already registered")
    _CELLS[cell.name] = cell
    return cell


def _load_plugins():
    """Register the cells that installed packages declare; one that fails is skipped with a
    warning naming it, so that a broken plug-in costs its cell, not every command."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cell = point.load()
            if _CELLS.get(getattr(cell, "name", None)) is not cell:
                register(cell)
        except Exception as error:  # any failure of foreign code: report it, go on
            warnings.warn(f"the {ENTRY_POINT_GROUP} entry point {point.name} ({point.value}) was skipped: "
                          f"{error}", stacklevel=2)


def get(name):
    """The Cell called `name`; ValueError listing the known ones otherwise."""
    _load_plugins()
    if name not in _CELLS:
        raise ValueError(f"cell must be one of {', '.join(_CELLS)}, got {name!r} (a cell from a plug-in "
                         f"needs the package that provides it installed)")
    return _CELLS[name]


def names():
    """The registered cell names, built-in ones first."""
    _load_plugins()
    return tuple(_CELLS)


def option_known(name):
    """Whether some registered cell takes the option `name`."""
    _load_plugins()
    return any(name in cell.options for cell in _CELLS.values())


def option_choices(name):
    """The allowed values of a cell option (such as "nonlinearity"), over every cell that has it."""
    _load_plugins()
    return tuple(dict.fromkeys(v for cell in _CELLS.values() for v in cell.choices.get(name, ())))
