"""What `seqkit show` puts on its page: a text read by a trained model, each token with the
activations of every hidden unit (and an LSTM's cell state) after reading it, the model's surprise
at it (its loss in bits) with the top five predictions, and the units whose activations best
track simple features of the text, ranked by correlation. page() writes it all as one
self-contained HTML page (inline CSS, JS and data; nothing fetched), from the template
seqkit/show.html.

Each shown token is one the model reads: its activation is the state after reading it, its
surprise the loss of predicting it from the tokens before it (none for <s>, never predicted).
Long texts are cut to MAX_TOKENS tokens, which keeps the page fast (one <span> per token).
"""
import base64
import html
import json
import math
from importlib import resources

import numpy as np

from seqkit.text.decoding import Decoder
from seqkit.text.options import BOS_ID, EOS_ID, UNK, UNK_ID

MAX_TOKENS = 5000      # tokens shown at most; a longer text is cut (said on the page and by the CLI)
TOP_PREDICTIONS = 5    # predictions listed on hover
TOP_UNITS = 8          # units listed per feature
LINE_BREAK_SOON = 5    # "a line break coming": within this many tokens after the token
LOGIT_ROWS = 1024      # rows of logits computed at a time
STATE_NAMES = ("h", "c")  # a cell's state arrays: h, then an LSTM's cell state c
TEMPLATE = "show.html"  # beside this module: the page, %TITLE%, %CUT%, %SPANS% and %DATA% filled in

FEATURES = {
    "quote": "inside quotes",
    "bracket": "inside brackets",
    "line_position": "position in the line",
    "word_start": "start of a word",
    "line_break_soon": f"a line break within {LINE_BREAK_SOON} tokens",
}


def state_name(s):
    return STATE_NAMES[s] if s < len(STATE_NAMES) else f"s{s}"


def token_pieces(vocab, ids):
    """The text each token adds when the ids are read as text (seqkit.text.decoding); at char
    level <unk> shows as U+FFFD, so that each shown token is one character."""
    return Decoder(vocab, unknown="\ufffd" if vocab.options.level == "char" else UNK).pieces(ids)


def activations(model, ids):
    """Every layer's state arrays after each token of ids (T,), in one batched pass with batch 1
    and no dropout: a list (per layer) of arrays (S, T, H) (S: 1, or 2 for an LSTM's h and c),
    and the top layer's output (T, H)."""
    tokens = np.ascontiguousarray(np.asarray(ids, np.int64)[:, None])
    p = model.parameters
    x = None if model.one_hot else p["embedding.weight"][tokens]
    layers = []
    for layer in model.layers:
        if x is None:
            xproj = (layer.params["weight_ih"].T[tokens] + layer.params["bias_ih"]).astype(model.dtype)
            y, _, (states, _) = layer.forward_projected(np.ascontiguousarray(xproj), None)
        else:
            y, _, (_, (states, _)) = layer.forward(np.ascontiguousarray(x), None)
        layers.append(np.array(states[:, 1:, 0, :]))
        x = y
    return layers, np.array(x[:, 0, :])


def surprise(model, top, targets, k=TOP_PREDICTIONS):
    """Loss in bits of each target (T,) given the top layer's output (T, H), and the k most
    probable next tokens with their probabilities (T, k) each, computed a block at a time."""
    weight = model.output_weight.astype(np.float64)
    bias = model.parameters["output.bias"].astype(np.float64)
    T = len(targets)
    bits, best, best_p = np.empty(T), np.empty((T, k), np.int64), np.empty((T, k))
    k = min(k, weight.shape[0])
    for start in range(0, T, LOGIT_ROWS):
        stop = min(start + LOGIT_ROWS, T)
        logits = top[start:stop].astype(np.float64) @ weight.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        bits[start:stop] = -log_p[np.arange(stop - start), targets[start:stop]] / math.log(2)
        order = np.argpartition(-log_p, k - 1, axis=1)[:, :k]
        chosen = np.take_along_axis(log_p, order, axis=1)
        ranked = np.argsort(-chosen, axis=1)
        best[start:stop, :k] = np.take_along_axis(order, ranked, axis=1)
        best_p[start:stop, :k] = np.exp(np.take_along_axis(chosen, ranked, axis=1))
    return bits, best[:, :k], best_p[:, :k]


def features(pieces):
    """Per token, the text's features after reading it (dict name -> float array (T,)): inside
    quotes ("...", “...”, and '...' where the ' is not an apostrophe), inside brackets (() or
    []), the position in the line (characters since the last line break), start of a word
    (the token begins with a letter or digit that follows whitespace, the start or
    punctuation), and a line break within the next LINE_BREAK_SOON tokens."""
    T = len(pieces)
    out = {name: np.zeros(T) for name in FEATURES}
    in_double = in_curly = in_single = False
    depth, column, previous = 0, 0, "\n"
    breaks = [n for n, piece in enumerate(pieces) if "\n" in piece]
    for n, piece in enumerate(pieces):
        stripped = piece.lstrip(" ")
        out["word_start"][n] = bool(stripped) and stripped[0].isalnum() and not (
            previous.isalnum() and len(stripped) == len(piece))
        for i, char in enumerate(piece):
            following = piece[i + 1] if i + 1 < len(piece) else ""
            if char == '"':
                in_double = not in_double
            elif char == "“":
                in_curly = True
            elif char == "”":
                in_curly = False
            elif char == "'":
                if not in_single and not previous.isalnum():
                    in_single = True
                elif in_single and previous.isalnum() and not following.isalnum():
                    in_single = False
            elif char in "([":
                depth += 1
            elif char in ")]":
                depth = max(depth - 1, 0)
            if char == "\n":
                if previous == "\n":  # a blank line ends whatever quote was left open
                    in_double = in_curly = in_single = False
                column = 0
            else:
                column += 1
            previous = char
        out["quote"][n] = in_double or in_curly or in_single
        out["bracket"][n] = depth > 0
        out["line_position"][n] = column
    next_break = iter(breaks + [None])
    coming = next(next_break)
    for n in range(T):
        while coming is not None and coming <= n:
            coming = next(next_break)
        out["line_break_soon"][n] = coming is not None and coming - n <= LINE_BREAK_SOON
    return out


def correlations(units, values):
    """Pearson correlation of each unit's activations (U, T) with values (T,); 0 where either
    is constant."""
    a = units - units.mean(axis=1, keepdims=True)
    v = values - values.mean()
    norms = np.sqrt((a * a).sum(axis=1)) * np.sqrt((v * v).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a @ v) / norms
    return np.where(norms > 0, r, 0.0)


def compute(lm, text, max_tokens=MAX_TOKENS):
    """Everything the page shows for `text` read by lm (a seqkit LanguageModel), as a dict of
    plain Python values and arrays. The text is cut to max_tokens tokens (cut: how many it had)."""
    ids = np.asarray(lm.vocab.encode(text), np.int64)
    if len(ids) < 2:
        raise ValueError("the text has no token to show")
    total = len(ids) - 1  # the tokens read; the final </s> is only predicted
    shown = min(total, max_tokens)
    ids = ids[:shown + 1]
    inputs, targets = ids[:-1], ids[1:]
    layers, top = activations(lm.model, inputs)
    bits, best, best_p = surprise(lm.model, top, targets)
    # shown token n is inputs[n]: its surprise is the prediction made after token n - 1
    token_bits = np.full(shown, np.nan)
    token_bits[1:] = bits[:-1]
    token_bits[inputs == BOS_ID] = np.nan
    pieces = token_pieces(lm.vocab, ids)[:-1]
    feats = features(pieces)
    names, series = [], []
    for k, states in enumerate(layers):
        for s in range(states.shape[0]):
            names.append((k, state_name(s)))
            series.append(states[s].T)  # (H, T)
    units = np.concatenate(series).astype(np.float64)
    ranked = {}
    for name, values in feats.items():
        r = correlations(units, values)
        order = np.argsort(-np.abs(r), kind="stable")[:TOP_UNITS]
        ranked[name] = [(int(u), float(r[u])) for u in order if r[u] != 0]
    return {"ids": inputs, "pieces": pieces, "layers": layers, "bits": token_bits,
            "predictions": best[:-1] if shown > 1 else best[:0], "probabilities": best_p[:-1],
            "features": feats, "ranked": ranked, "units": units, "series": names,
            "hidden": layers[0].shape[2], "cut": total if total > shown else None, "shown": shown,
            "level": lm.vocab.options.level}


def _label(vocab, i):
    """How a predicted token is named in the list of predictions."""
    if i == EOS_ID:
        return "</s>"
    if i in (BOS_ID, UNK_ID):
        return vocab.tokens[i]
    token = vocab.tokens[i]
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(token, token)


def page_data(lm, result, title):
    """The page's inline JSON: tokens, activations (int8 per unit, base64, with a scale per unit),
    surprise, predictions, features and the ranked units."""
    H, series = result["hidden"], result["series"]
    units = result["units"]
    scale = np.abs(units).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    quantized = np.clip(np.rint(units / scale[:, None] * 127), -127, 127).astype(np.int8)
    ranked = {name: [{"layer": series[u // H][0], "state": series[u // H][1], "unit": u % H,
                      "r": round(r, 4)} for u, r in entries] for name, entries in result["ranked"].items()}
    bits = [None if math.isnan(b) else round(float(b), 3) for b in result["bits"]]
    predictions = [[[_label(lm.vocab, int(i)), round(float(p), 4)] for i, p in zip(row, prow)]
                   for row, prow in zip(result["predictions"], result["probabilities"])]
    return {"title": title, "level": result["level"], "shown": result["shown"], "cut": result["cut"],
            "hidden": H, "layers": len(result["layers"]),
            "states": sorted({s for _, s in series}, key=lambda s: STATE_NAMES.index(s) if s in STATE_NAMES else 9),
            "series": [[k, s] for k, s in series],
            "activations": base64.b64encode(quantized.tobytes()).decode("ascii"),
            "scales": [round(float(s), 5) for s in scale],
            "bits": bits, "predictions": [None] + predictions,
            "features": {name: {"label": FEATURES[name], "values": [round(float(v), 3) for v in values]}
                         for name, values in result["features"].items()},
            "ranked": ranked, "best_feature": max(ranked, key=lambda name: abs(ranked[name][0]["r"]) if ranked[name] else -1)}


def page(lm, text, title="seqkit show", max_tokens=MAX_TOKENS):
    """The HTML page for text read by lm, and compute's result."""
    result = compute(lm, text, max_tokens)
    data = page_data(lm, result, title)
    spans = "".join(f"<span>{html.escape(piece)}</span>" for piece in result["pieces"])
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    blob = blob.replace("</", "<\\/").replace("<!--", "<\\!--")
    cut = (f"Cut to the first {result['shown']:,} of {result['cut']:,} tokens (at most {max_tokens:,} keep the "
           f"page fast)." if result["cut"] else f"{result['shown']:,} tokens.")
    template = resources.files("seqkit.generation").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return (template.replace("%TITLE%", html.escape(title)).replace("%CUT%", html.escape(cut))
            .replace("%SPANS%", spans).replace("%DATA%", blob)), result
