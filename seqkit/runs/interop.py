"""PyTorch and Hugging Face interop: a model as one .safetensors file, read and written with the
`safetensors` package's numpy API (no torch needed).

The tensors carry pytorch/examples' word_language_model names (Model.state_dict), so the file
loads into an nn.Embedding `encoder`, an nn.RNN/LSTM/GRU `rnn` and an nn.Linear `decoder`:

    encoder.weight        (V, E)    absent with one-hot input
    rnn.weight_ih_l{k}    (G*H, I)  I = E for k = 0 (V with one-hot input), H above it
    rnn.weight_hh_l{k}    (G*H, H)
    rnn.bias_ih_l{k}      (G*H,)
    rnn.bias_hh_l{k}      (G*H,)
    decoder.weight        (V, H)    a copy of encoder.weight when the two are tied
    decoder.bias          (V,)

all float32 or all float64, in PyTorch's gate order (G = 4 lstm: i, f, g, o; 3 gru: r, z, n;
1 rnn). The metadata (strings) says the rest: "format" "pt" (Hugging Face's loaders take the
file as a PyTorch state dict), "seqkit_format" "1", "seqkit_version", "seqkit_config"
(TrainConfig.to_dict() as JSON), "seqkit_vocab" (Vocab.to_dict() as JSON) and, where the run
recorded them, "seqkit_corpus_sha256" and "seqkit_start_state" (Model.start_state, the state
samples start from, as JSON lists: one (S, H) per layer; not a tensor, so that PyTorch's strict
load_state_dict takes the file).

A file without the seqkit keys (a PyTorch model's state dict, saved by its user) is read from
its shapes: L from the rnn.*_l{k} names, H from weight_hh's columns, G from its rows (4 lstm,
3 gru, 1 rnn), V from the decoder, E from encoder.weight (none: one-hot input), the weights tied
where decoder.weight equals encoder.weight; its vocabulary is given separately (read_vocab).
A name that safetensors.torch.save_model dropped as a shared tensor is found through the
metadata entry it leaves (decoder.weight: encoder.weight, or the reverse).
"""
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from seqkit import _version, cells
from seqkit._checks import check_finite
from seqkit.config import TrainConfig
from seqkit.errors import CheckpointError, OptionError, option
from seqkit.nn.model import Model
from seqkit.runs.checkpoint import atomic_write, read_json
from seqkit.runs.directory import CONFIG, file_digest, version_tuple
from seqkit.runs.saving import check_free, save_run
from seqkit.text.options import LEVELS, TextOptions
from seqkit.text.vocab import Vocab

SUFFIX = ".safetensors"
SEQKIT_FORMAT = "1"
DTYPES = {"F32": np.dtype(np.float32), "F64": np.dtype(np.float64)}  # safetensors' names -> ours
GATED = {4: "lstm", 3: "gru", 1: "rnn"}  # the built-in cell of each gate count, for files without metadata


class Imported(NamedTuple):
    """What a .safetensors file holds, as seqkit reads it."""
    model: Model
    vocab: Vocab
    config: TrainConfig
    path: Path
    corpus_sha256: str | None  # the training corpus's digest, where the file says it
    seqkit_metadata: bool      # whether seqkit wrote the file (or its metadata was passed on)


# --- writing ----------------------------------------------------------------------------------------
def save_model(path, model, vocab, config, corpus_sha256=None, overwrite=False):
    """Write model (with its vocabulary and configuration) to the .safetensors `path`,
    atomically: a failure leaves no file, or the one that was there. An existing file is
    replaced only with overwrite=True."""
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path} exists: pass overwrite=True to replace it")
    # Tied weights are one array under two names; safetensors stores each name's bytes, so copies.
    tensors = {name: np.array(array, order="C", copy=True) for name, array in model.state_dict().items()}
    metadata = {"format": "pt", "seqkit_format": SEQKIT_FORMAT, "seqkit_version": _version.__version__,
                "seqkit_config": json.dumps(config.to_dict(), sort_keys=True),
                "seqkit_vocab": json.dumps(vocab.to_dict(), ensure_ascii=False)}
    if corpus_sha256:
        metadata["seqkit_corpus_sha256"] = corpus_sha256
    if model.start_state is not None:
        metadata["seqkit_start_state"] = json.dumps([s.tolist() for s in model.start_state])
    data = save(tensors, metadata)
    try:
        atomic_write(path, lambda file: file.write(data))
    except OSError as error:
        raise CheckpointError(f"could not write {path} ({error.strerror or error}); "
                              f"{'the file there is as it was' if os.path.lexists(path) else 'nothing was written'}") \
            from None


def corpus_digest(checkpoint):
    """The training corpus's digest that a run directory (or a seqkit .safetensors file) records."""
    if checkpoint.suffix == SUFFIX:
        return _open(checkpoint)[1].get("seqkit_corpus_sha256")
    saved = read_json(checkpoint.parent / CONFIG)
    return saved.get("corpus_sha256") if isinstance(saved, dict) else None


# --- reading ----------------------------------------------------------------------------------------
def has_seqkit_metadata(path):
    """Whether the .safetensors `path` carries seqkit's configuration and vocabulary."""
    return "seqkit_format" in _open(path)[1]


def read(path, vocab=None, level=None, cell=None, nonlinearity=None):
    """The model a .safetensors file holds, as an Imported. A file seqkit wrote (or one whose
    seqkit metadata was passed on) says everything; for another, `vocab` is needed (a Vocab, or
    the path of a file read_vocab reads, with `level` if the file does not say it), and `cell`
    and `nonlinearity` settle what the shapes do not (an rnn's tanh or relu). Every name, shape
    and dtype is checked before any tensor is read."""
    path = Path(path)
    specs, metadata = _open(path)
    aliases = _aliases(specs, metadata)
    specs = {**specs, **{name: specs[kept] for name, kept in aliases.items()}}
    from_seqkit = "seqkit_format" in metadata
    if from_seqkit:
        given = [name for name, value in (("vocab", vocab), ("level", level), ("cell", cell),
                                          ("nonlinearity", nonlinearity)) if value is not None]
        if given:
            raise OptionError(f"{path} carries its own configuration and vocabulary (seqkit metadata): "
                              f"drop {option(given[0])}", field=given[0], file=path)
        config, vocab = _seqkit_metadata(path, metadata)
        dtype = _common_dtype(path, specs)
        if dtype != np.dtype(config.dtype):
            raise CheckpointError(f"{path}: the tensors are {dtype}, but its seqkit configuration says {config.dtype}")
    else:
        if vocab is None:
            raise OptionError(f"{path} has no seqkit metadata, so its vocabulary is needed: give {option('vocab')} (a "
                              f"vocab.json as seqkit writes it, or a text file of the tokens, one a line in id order)",
                              field="vocab", file=path)
        vocab = vocab if isinstance(vocab, Vocab) else read_vocab(vocab, level)
        if level is not None and level != vocab.options.level:
            raise OptionError(f"the vocabulary is {vocab.options.level} level, not {level}: drop {option('level')}",
                              field="level")
        config = _infer_config(path, specs, vocab, cell, nonlinearity, _common_dtype(path, specs))
    model = Model(**config.model_options(len(vocab)), seed=0)
    _check_shapes(path, specs, model, config)
    tensors = _tensors(path, specs, aliases)
    if not from_seqkit and not model.one_hot and config.hidden == tensors["encoder.weight"].shape[1]:
        # Tied in PyTorch: both names hold one tensor. Tie them here too, so that training keeps them one.
        if np.array_equal(tensors["encoder.weight"], tensors["decoder.weight"]):
            config = config.replace(tie_weights=True)
            model = Model(**config.model_options(len(vocab)), seed=0)
    if config.tie_weights and not np.array_equal(tensors["encoder.weight"], tensors["decoder.weight"]):
        raise CheckpointError(f"{path}: decoder.weight differs from encoder.weight, but the model ties them "
                              f"(tie_weights): save the one weight under both names")
    check_finite(tensors, str(path), CheckpointError)
    model.load_state_dict(tensors)
    if from_seqkit and "seqkit_start_state" in metadata:
        model.start_state = _start_state(path, metadata["seqkit_start_state"], model)
    return Imported(model, vocab, config, path, metadata.get("seqkit_corpus_sha256"), from_seqkit)


def read_vocab(path, level=None):
    """A vocabulary file: a vocab.json as seqkit writes it ({"tokens": [...], "options": {...}}),
    or the tokens in id order as a JSON array or as UTF-8 text, one a line (a line that is just
    \\n stands for the newline character), with `level` "char" or "word" (the rest of the
    tokenizer's options at their defaults). Either way ids 0, 1 and 2 are <unk>, <s> and </s>,
    as in every seqkit vocabulary: the ids the model was trained on."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} could not be read as a vocabulary ({error})") from None
    try:
        parsed = json.loads(text)
    except ValueError:
        lines = text.split("\n")
        parsed = ["\n" if line == "\\n" else line for line in (lines[:-1] if lines[-1] == "" else lines)]
    try:
        if isinstance(parsed, dict):
            return Vocab.from_dict(parsed)
        if not (isinstance(parsed, list) and all(isinstance(token, str) for token in parsed)):
            raise ValueError("expected a seqkit vocab.json, a JSON array of strings or one token a line")
        if level is None:
            raise OptionError(f"{path} lists the tokens but not how text is split into them: give {option('level')} "
                              f"{' or '.join(LEVELS)}", field="level", file=path)
        return Vocab(parsed, TextOptions(level=level))
    except OptionError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} is not a usable vocabulary ({error})") from None


def _open(path):
    """({name: (dtype name, shape)}, metadata) of a .safetensors file, reading only its header."""
    try:
        with safe_open(str(path), framework="np") as file:
            metadata = dict(file.metadata() or {})
            specs = {}
            for name in file.keys():
                piece = file.get_slice(name)
                specs[name] = (piece.get_dtype(), tuple(piece.get_shape()))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None
    return specs, metadata


def _aliases(specs, metadata):
    """{missing name: the name holding its tensor}, from the entries save_model leaves for the
    shared tensors it drops."""
    return {name: kept for name, kept in metadata.items()
            if name not in specs and kept in specs and name in ("encoder.weight", "decoder.weight")}


def _tensors(path, specs, aliases):
    """Every tensor, copied out of the file, and each alias's as a copy of the tensor it names."""
    try:
        with safe_open(str(path), framework="np") as file:
            stored = [name for name in specs if name not in aliases]
            tensors = {name: np.array(file.get_tensor(name)) for name in stored}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None
    tensors.update({name: tensors[kept].copy() for name, kept in aliases.items()})
    return tensors


def _common_dtype(path, specs):
    """The one float dtype of every tensor; CheckpointError naming the first (by name) that differs."""
    first = None
    for name, (dtype, _) in sorted(specs.items()):
        if dtype not in DTYPES:
            raise CheckpointError(f"{path}: {name} is {dtype}; seqkit reads F32 (float32) and F64 (float64) "
                                  f"tensors: save the model as float32 (model.float() in PyTorch)")
        if first is None:
            first = name
        elif dtype != specs[first][0]:
            raise CheckpointError(f"{path}: {name} is {dtype} but {first} is {specs[first][0]}: every tensor "
                                  f"needs the same dtype")
    if first is None:
        raise CheckpointError(f"{path} holds no tensors")
    return DTYPES[specs[first][0]]


def _seqkit_metadata(path, metadata):
    """(TrainConfig, Vocab) from seqkit's metadata, refusing a newer format or version."""
    written_by = metadata.get("seqkit_version", "0")
    if metadata["seqkit_format"] != SEQKIT_FORMAT or version_tuple(written_by) > version_tuple(_version.__version__):
        raise CheckpointError(f"{path} was written by seqkit {written_by} (format {metadata['seqkit_format']}), "
                              f"newer than this seqkit {_version.__version__}: upgrade seqkit to read it")
    try:
        return (TrainConfig.from_dict(json.loads(metadata["seqkit_config"])),
                Vocab.from_dict(json.loads(metadata["seqkit_vocab"])))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: the seqkit metadata is not usable ({error})") from None


def _start_state(path, text, model):
    """Model.start_state from its metadata entry, checked against the model's layers."""
    try:
        start = [np.array(s, model.dtype) for s in json.loads(text)]
    except (ValueError, TypeError):
        start = None
    shapes = [(layer.state_size, layer.hidden_size) for layer in model.layers]
    if start is None or [s.shape for s in start] != shapes:
        raise CheckpointError(f"{path}: seqkit_start_state is not one (S, H) list per layer, {shapes}")
    return start


def _infer_config(path, specs, vocab, cell, nonlinearity, dtype):
    """The TrainConfig of a file without seqkit metadata, from its tensors' shapes."""
    hh = specs.get("rnn.weight_hh_l0", (None, ()))[1]
    if len(hh) != 2 or hh[1] == 0 or hh[0] % hh[1] or (hh[0] // hh[1] not in GATED and cell is None):
        if "rnn.weight_hh_l0" not in specs:
            raise CheckpointError(f"{path} has no rnn.weight_hh_l0: it is not a word_language_model state dict "
                                  f"(encoder.weight, rnn.weight_ih_l0 ... rnn.bias_hh_l{{L-1}}, decoder.weight, "
                                  f"decoder.bias); it holds {', '.join(sorted(specs)[:4])}")
        raise CheckpointError(f"{path}: rnn.weight_hh_l0 has shape {hh}, expected (G*H, H) with G = "
                              + ", ".join(f"{g} ({name})" for g, name in GATED.items()))
    hidden, gates = hh[1], hh[0] // hh[1]
    if cell is None:
        cell = GATED[gates]
    elif cells.get(cell).gates != gates:
        raise OptionError(f"the {cell} cell has {cells.get(cell).gates} gates, but rnn.weight_hh_l0 has "
                          f"{gates}*H rows: drop {option('cell')} or name a cell of {gates} gates", field="cell")
    if nonlinearity is not None and "nonlinearity" not in cells.get(cell).options:
        raise OptionError(f"{path} holds a {cell}, which takes no nonlinearity: drop {option('nonlinearity')}",
                          field="nonlinearity", file=path)
    layers = 1
    while f"rnn.weight_hh_l{layers}" in specs:  # any rnn.*_l{k} above the last layer is unexpected
        layers += 1
    rows = [specs[name][1][0] for name in ("decoder.bias", "decoder.weight") if name in specs and specs[name][1]]
    if rows and rows[0] != len(vocab):
        raise CheckpointError(f"the vocabulary has {len(vocab)} tokens, but {path}'s decoder has {rows[0]} rows "
                              f"(one per token): give the vocabulary the model was trained with")
    encoder = specs.get("encoder.weight", (None, ()))[1]
    embed = encoder[1] if len(encoder) == 2 else None
    options = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    try:
        return TrainConfig(text=vocab.options, cell=cell, layers=layers, hidden=hidden, embed=embed,
                           dtype=dtype.name, seed=0, **options)
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None


def _check_shapes(path, specs, model, config):
    """Refuse any name missing or unexpected and any shape that differs from the model's,
    naming the tensor, the shape expected and what its letters stand for."""
    expected = {name: array.shape for name, array in model.state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(specs)), sorted(set(specs) - set(expected))
    if missing or unexpected:
        kind = f"{config.layers}-layer {config.cell}" + (" with one-hot input" if model.one_hot else "")
        said = [f"{what} {', '.join(names)}" for what, names in (("missing", missing), ("unexpected", unexpected))
                if names]
        raise CheckpointError(f"{path} does not hold a {kind} word_language_model: {'; '.join(said)}")
    letters = _letters(model, config)
    for name, shape in expected.items():
        if specs[name][1] != shape:
            raise CheckpointError(f"{path}: {name} has shape {specs[name][1]}, expected {shape} = {letters[name]}")


def _letters(model, config):
    """Each tensor's shape in letters, with their values: "(4*H, E) with H = 32, E = 16"."""
    gates, first_input = cells.get(config.cell).gates, "V" if model.one_hot else "E"
    values = {"V": model.vocab_size, "H": config.hidden, "E": config.embed}
    forms = {"encoder.weight": "(V, E)", "decoder.weight": "(V, H)", "decoder.bias": "(V,)"}
    for k in range(config.layers):
        forms.update({f"rnn.weight_ih_l{k}": f"({gates}*H, {first_input if k == 0 else 'H'})",
                      f"rnn.weight_hh_l{k}": f"({gates}*H, H)", f"rnn.bias_ih_l{k}": f"({gates}*H,)",
                      f"rnn.bias_hh_l{k}": f"({gates}*H,)"})
    return {name: f"{form} with " + ", ".join(f"{letter} = {values[letter]}" for letter in "VHE" if letter in form)
            for name, form in forms.items()}


# --- a run directory from a file ----------------------------------------------------------------------
def import_run(path, run_dir, **options):
    """Build the run directory `run_dir` (new, or an empty directory) from the .safetensors file
    `path` (read's options): config.json, vocab.json, and latest.npz and best.npz as the trainer
    writes them at step 0 (fresh optimizer state), so that the run samples, evaluates, is
    fine-tuned with --init-from, and resumes where its training corpus is known and at hand.
    The directory appears whole or not at all. Returns the Imported."""
    check_free(Path(run_dir))
    imported = read(path, **options)
    save_run(run_dir, imported.model, imported.vocab, imported.config, imported.corpus_sha256,
             imported_from={"file": str(Path(path).resolve()), "sha256": file_digest(path),
                            "seqkit_metadata": imported.seqkit_metadata})
    return imported
