"""The package's shape (docs/architecture.md): its layers import only downward, no module imports
another that imports it back, no library module imports the package face or builds a
command-line flag, every public name is importable where it always was, and the library imports
without the command line's click."""
import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqkit"

# Lowest first: a module may import modules of its own rank and below, and within its own rank
# only modules of its own package (nn, text and optim are independent of each other).
RANKS = [
    ["seqkit._version", "seqkit._jit", "seqkit._cores", "seqkit._memory", "seqkit.errors"],
    ["seqkit._checks"],
    ["seqkit.cells"],
    ["seqkit.nn", "seqkit.text", "seqkit.optim"],
    ["seqkit.config"],
    ["seqkit.runs"],
    ["seqkit.generation"],
    ["seqkit.training"],
    ["seqkit.lm"],
    ["seqkit.api"],
    ["seqkit.cli"],
]


def module_name(path):
    """seqkit.nn.model for seqkit/nn/model.py, seqkit.nn for seqkit/nn/__init__.py; cli/ installs as seqkit.cli."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "cli":
        parts = ["seqkit", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for folder in (PACKAGE, ROOT / "cli") for path in folder.rglob("*.py")}


def imports(name):
    """The seqkit modules that module `name` imports, anywhere in its code (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:  # `from seqkit import cells` imports the module seqkit.cells
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {module for module in found if module in MODULES}


def rank(name):
    """(rank, group) of a module: the entry of RANKS it falls under."""
    for level, groups in enumerate(RANKS):
        for group in groups:
            if name == group or name.startswith(group + "."):
                return level, group
    raise AssertionError(f"{name} is in no layer of RANKS: add it there and to docs/architecture.md")


def test_every_module_has_a_layer():
    for name in MODULES:
        if name not in ("seqkit", "seqkit.__main__"):
            rank(name)


def test_imports_only_go_down_the_layers():
    upward = []
    for name in MODULES:
        if name in ("seqkit", "seqkit.__main__"):
            continue
        level, group = rank(name)
        for target in imports(name):
            if target == "seqkit":
                upward.append(f"{name} imports the package face (seqkit/__init__.py)")
                continue
            target_level, target_group = rank(target)
            if target_level > level or (target_level == level and target_group != group):
                upward.append(f"{name} ({group}) imports {target} ({target_group})")
    assert not upward, "\n".join(sorted(upward))


def test_no_two_modules_import_each_other():
    graph = {name: imports(name) for name in MODULES}
    cycles = []

    def visit(name, path):
        for target in graph[name]:
            if target in path:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in done:
                visit(target, path + [target])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def strings(tree):
    """(line, text) of every string in the code that is not a docstring (f-strings' parts included)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_library_module_writes_a_command_line_flag():
    """Library messages name options as fields (seqkit.errors.option); the CLI spells them."""
    found = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for name, path in MODULES.items()
             if not name.startswith("seqkit.cli")
             for line, text in strings(ast.parse(path.read_text())) if FLAG.search(text)]
    assert not found, "\n".join(found)


PUBLIC = {
    "seqkit": ["cells", "RNN", "LSTM", "GRU", "Recurrent", "Model", "Vocab", "TextOptions", "TrainConfig", "Trainer",
               "LanguageModel", "load", "train", "Workspace", "Linear", "Embedding", "Dropout",
               "softmax_cross_entropy", "named", "make_optimizer", "OPTIMIZERS", "clip_global_norm", "__version__",
               "SeqkitError", "OptionError", "CheckpointError", "TrainingError"],
    "seqkit.nn": ["Linear", "Embedding", "Dropout", "softmax_cross_entropy", "named", "Recurrent", "RNN", "LSTM",
                  "GRU", "Model", "Workspace"],
    "seqkit.cells": ["Cell", "Kernels", "register", "get", "names", "option_known", "option_choices",
                     "ENTRY_POINT_GROUP"],
    "seqkit.cells.activations": ["sigmoid", "tanh", "exp_nonpositive"],
    "seqkit.errors": ["SeqkitError", "OptionError", "InputError", "CheckpointError", "TrainingError", "option",
                      "setting"],
    "seqkit.corpora": ["path"],
    "seqkit.cli.main": ["main"],
    "seqkit._jit": ["kernel"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_the_public_names_import_from_where_they_always_did(module):
    imported = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(imported, name)]
    assert not missing
    if hasattr(imported, "__all__"):
        assert set(PUBLIC[module]) - {"__version__"} <= set(imported.__all__) | {"__version__"}


def test_importing_seqkit_does_not_import_click():
    code = "import sys, seqkit; print('click' in sys.modules, seqkit.LSTM.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "LSTM"]


def test_only_seqkit_serve_imports_starlette():
    """starlette and uvicorn are the serve extra's: neither seqkit nor its command line loads them
    until `seqkit serve` runs."""
    code = ("import sys, seqkit, seqkit.generation, seqkit.cli.main; "
            "print(*(name in sys.modules for name in ('starlette', 'uvicorn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent)  # not the checkout's root, whose seqkit/ lacks cli/
    assert out.stdout.split() == ["False", "False"]
