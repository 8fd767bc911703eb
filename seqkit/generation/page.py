"""`seqkit export RUN page.html`: a trained model as one self-contained HTML page that samples in
the browser, with no server and nothing fetched. The page (the template page.html beside this
module) holds the weights, in the model's dtype (float32, or float64 for a float64 run), as
base64 in its inline JSON, and a JavaScript sampler of the built-in cells (lstm, gru, rnn with
tanh or relu) at batch 1: one-hot input or an embedding, tied weights, any number of layers,
the model's start state, <s> and the prime read first, <s> and <unk> never drawn, </s> read
with <s> after it, as seqkit.generation.sampler draws.

Its arithmetic follows the model's dtype (Math.fround after each operation of a float32
model) and the exp of seqkit.cells.activations, so that its argmax (temperature 0) text is the
sampler's; the products are summed in another order than BLAS's, which can only matter where
two logits tie to the last bits. Its random draws come from a seeded generator of its own
(xoshiro128**), deterministic by seed but not numpy's: a seeded sample in the page is not
`seqkit sample`'s of that seed.

A URL fragment (#prime=ROMEO:&temperature=0&length=200&seed=1&top_k=40&top_p=0.9) fills the
controls and starts a generation; when one ends, the text is in #output (and as JSON in
#result) and <body> has data-done="1".
"""
import base64
import json
import os
from importlib import resources

import numpy as np

from seqkit.errors import InputError, option
from seqkit.runs.checkpoint import atomic_write

SUFFIXES = (".html", ".htm")  # the names seqkit export writes a page to
TEMPLATE = "page.html"  # beside this module: %TITLE% and %DATA% filled in
MAX_PAGE_BYTES = 50_000_000  # 50 MB: a larger page loads slowly, if at all, in a browser
CELLS = ("lstm", "gru", "rnn")


def page_size(lm):
    """The size in bytes the page of lm would have, about: its weights in base64 and the rest."""
    weights = sum(array.nbytes for array in _arrays(lm.model).values())
    return 4 * (weights + 2) // 3 + sum(len(t.encode()) + 8 for t in lm.vocab.tokens) + _template_size()


def page(lm, title="seqkit"):
    """The page's HTML for the LanguageModel lm. An InputError (a ValueError), one line, for a
    model the page cannot run (a plug-in cell) or whose page would pass MAX_PAGE_BYTES."""
    model, config = lm.model, lm.config
    if config.cell not in CELLS:
        raise InputError(f"the page's sampler runs the cells {', '.join(CELLS)}, not {config.cell!r}: export it as "
                          f".safetensors instead", field="cell", value=config.cell)
    size = page_size(lm)
    if size > MAX_PAGE_BYTES:
        raise InputError(f"the page would be {size:,} bytes, more than the {MAX_PAGE_BYTES:,} a page may hold: "
                          f"export a smaller model (fewer {option('hidden')} units or layers, a smaller vocabulary), or "
                          f"to a .safetensors file", field="hidden", value=config.hidden)
    options = lm.vocab.options
    layer = model.layers[0]
    data = {
        "title": title, "cell": config.cell, "relu": config.cell == "rnn" and layer.options.get("nonlinearity") == "relu",
        "layers": len(model.layers), "hidden": layer.hidden_size, "gates": layer.gates, "states": layer.state_size,
        "oneHot": model.one_hot, "embed": None if model.one_hot else int(model.parameters["embedding.weight"].shape[1]),
        "dtype": str(np.dtype(model.dtype)), "vocab": list(lm.vocab.tokens), "labels": sorted(lm.vocab.labels.values()),
        "level": options.level, "unit": options.resolved_unit, "graphemes": bool(options.graphemes),
        "tokenize": options.tokenize, "lowercase": bool(options.lowercase),
        "weights": {name: base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
                    for name, array in _arrays(model).items()},
    }
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    blob = blob.replace("</", "<\\/").replace("<!--", "<\\!--")
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _template().replace("%TITLE%", escaped).replace("%DATA%", blob)


def write_page(path, lm, overwrite=False, title=None):
    """Write lm's page to `path`, atomically; an existing file is replaced only with overwrite."""
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path} exists: pass overwrite=True to replace it")
    text = page(lm, title or f"seqkit: {lm.checkpoint.parent.name}").encode("utf-8")
    atomic_write(path, lambda file: file.write(text))


def _arrays(model):
    """The arrays the page reads, by its names: each layer's weight_ih, weight_hh, bias_ih,
    bias_hh (and start state, where the model has one), the embedding, the output layer's."""
    p, arrays = model.parameters, {}
    if not model.one_hot:
        arrays["embedding"] = p["embedding.weight"]
    for k, layer in enumerate(model.layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            arrays[f"{name}_{k}"] = layer.params[name]
    for k, start in enumerate(model.start_state or ()):
        arrays[f"start_{k}"] = np.asarray(start, model.dtype)
    if not model.tied:
        arrays["output_weight"] = p["output.weight"]
    arrays["output_bias"] = p["output.bias"]
    return arrays


def _template():
    return resources.files("seqkit.generation").joinpath(TEMPLATE).read_text(encoding="utf-8")


def _template_size():
    return len(_template().encode())
