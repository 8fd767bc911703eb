"""What `seqkit show` puts on its page: a text read by a trained model, each token with the
activations of every hidden unit (and an LSTM's cell state) after reading it, the model's surprise
at it (its loss in bits) with the top five predictions, and the units whose activations best
track simple features of the text, ranked by correlation. page() writes it all as one
self-contained HTML page (inline CSS, JS and data; nothing fetched).

Each shown token is one the model reads: its activation is the state after reading it, its
surprise the loss of predicting it from the tokens before it (none for <s>, never predicted).
Long texts are cut to MAX_TOKENS tokens, which keeps the page fast (one <span> per token).
"""
import base64
import html
import json
import math
import numpy as np

from seqkit.vocab import BOS_ID, EOS_ID, UNK_ID, Joiner

MAX_TOKENS = 5000      # tokens shown at most; a longer text is cut (said on the page and by the CLI)
TOP_PREDICTIONS = 5    # predictions listed on hover
TOP_UNITS = 8          # units listed per feature
LINE_BREAK_SOON = 5    # "a line break coming": within this many tokens after the token
LOGIT_ROWS = 1024      # rows of logits computed at a time
STATE_NAMES = ("h", "c")  # a cell's state arrays: h, then an LSTM's cell state c

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
    """The text each token adds when the ids are read as text: char level the character
    (</s> <s> at a line boundary a line break), word level the token with the spacing that
    detokenize gives, each </s> ending a line (two at paragraph level); <s> adds nothing."""
    ids = [int(i) for i in ids]
    options, pieces = vocab.options, []
    if options.level == "char":
        line = options.resolved_unit == "line"
        for n, i in enumerate(ids):
            if i == EOS_ID:
                pieces.append("\n" if line and n + 1 < len(ids) and ids[n + 1] == BOS_ID else "")
            elif i == BOS_ID:
                pieces.append("")
            else:
                pieces.append("\ufffd" if i == UNK_ID else vocab.tokens[i])
        return pieces
    end = "\n\n" if options.resolved_unit == "paragraph" else "\n"
    joiner = Joiner(options.tokenize == "whitespace")
    for i in ids:
        if i == BOS_ID:
            joiner = Joiner(options.tokenize == "whitespace")
            pieces.append("")
        elif i == EOS_ID:
            pieces.append(end)
        else:
            pieces.append(joiner.add(vocab.tokens[i]))
    return pieces


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
    return (TEMPLATE.replace("%TITLE%", html.escape(title)).replace("%CUT%", html.escape(cut))
            .replace("%SPANS%", spans).replace("%DATA%", blob)), result


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<script>window.pageErrors = [];  /* errors of the page's script, shown in #errors (the browser tests read it) */
function pageError(message) { window.pageErrors.push(String(message));
  var e = document.getElementById("errors"); if (e) { e.textContent = window.pageErrors.join("\\n"); } }
window.onerror = function (message) { pageError(message); };
(function (original) { console.error = function () { pageError(Array.prototype.join.call(arguments, " "));
  return original.apply(console, arguments); }; })(console.error);</script>
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fff; }
header { padding: 8px 14px; border-bottom: 1px solid #ddd; background: #f7f7f7; position: sticky; top: 0; z-index: 2; }
header h1 { font-size: 16px; margin: 0 12px 0 0; display: inline; }
nav { display: inline; } nav a { margin-right: 10px; text-decoration: none; color: #1558b0; padding: 2px 6px; border-radius: 4px; }
nav a.active { background: #1558b0; color: #fff; }
#controls { margin-top: 6px; font-size: 13px; } #controls label { margin-right: 10px; }
#info { margin-top: 6px; font-size: 13px; min-height: 1.3em; font-family: ui-monospace, monospace; white-space: pre; overflow: hidden; }
#note { font-size: 12px; color: #666; margin-left: 8px; }
main { display: flex; }
#text { flex: 1; padding: 12px 14px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 14px;
        line-height: 1.55; white-space: pre-wrap; word-wrap: break-word; }
#text span { border-radius: 2px; }
#text span:hover, #text span.picked { outline: 1px solid #000; }
#ranking { width: 330px; padding: 10px 14px; border-left: 1px solid #ddd; font-size: 13px; display: none; }
#ranking h2 { font-size: 13px; margin: 10px 0 3px; } #ranking h2.current { color: #1558b0; }
#ranking ol { margin: 0; padding-left: 22px; } #ranking li { cursor: pointer; } #ranking li:hover { text-decoration: underline; }
#legend { display: inline-block; width: 160px; height: 10px; vertical-align: middle; margin: 0 6px; border: 1px solid #ccc; }
#errors { color: #b00; white-space: pre; }
</style></head>
<body>
<header><h1>%TITLE%</h1>
<nav><a href="#unit" id="nav-unit">unit</a><a href="#surprise" id="nav-surprise">surprise</a><a href="#features" id="nav-features">features</a></nav>
<span id="note">%CUT%</span>
<div id="controls"></div>
<div id="info"></div><div id="errors"></div></header>
<main><div id="text">%SPANS%</div><div id="ranking"></div></main>
<script type="application/json" id="data">%DATA%</script>
<script>
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  var spans = document.getElementById("text").children;
  var T = spans.length, H = data.hidden;
  var raw = atob(data.activations), bytes = new Int8Array(raw.length);
  for (var i = 0; i < raw.length; i++) { var b = raw.charCodeAt(i); bytes[i] = b > 127 ? b - 256 : b; }
  var controls = document.getElementById("controls"), info = document.getElementById("info");
  var panel = document.getElementById("ranking");
  var state = {view: "unit", layer: 0, kind: "h", unit: 0, feature: data.best_feature};
  var maxBits = (function () {
    var b = data.bits.filter(function (x) { return x !== null; }).sort(function (x, y) { return x - y; });
    return b.length ? Math.max(1, b[Math.floor(0.95 * (b.length - 1))]) : 1; })();

  function seriesIndex(layer, kind) {
    for (var s = 0; s < data.series.length; s++) { if (data.series[s][0] === layer && data.series[s][1] === kind) { return s; } }
    return -1; }
  function activation(row, t) { return bytes[row * T + t] / 127 * data.scales[row]; }
  function diverging(v) {  // -1 blue, 0 white, +1 red
    v = Math.max(-1, Math.min(1, v)); var a = Math.abs(v);
    return v >= 0 ? "rgb(255," + Math.round(255 - 190 * a) + "," + Math.round(255 - 210 * a) + ")"
                  : "rgb(" + Math.round(255 - 210 * a) + "," + Math.round(255 - 150 * a) + ",255)"; }
  function sequential(v, r, g, b) { v = Math.max(0, Math.min(1, v));
    return "rgb(" + Math.round(255 - (255 - r) * v) + "," + Math.round(255 - (255 - g) * v) + "," + Math.round(255 - (255 - b) * v) + ")"; }
  function percent(p) { p *= 100; return (p >= 0.1 || p === 0 ? p.toFixed(1) : p.toPrecision(2)) + "%"; }
  function shown(t) { return JSON.stringify(spans[t].textContent); }

  function select(options, value, change) {
    var s = document.createElement("select");
    options.forEach(function (o) { var e = document.createElement("option"); e.value = o[0]; e.textContent = o[1];
      if (String(o[0]) === String(value)) { e.selected = true; e.setAttribute("selected", ""); } s.appendChild(e); });
    s.addEventListener("change", function () { change(s.value); }); return s; }
  function label(text, element) { var l = document.createElement("label"); l.textContent = text + " "; l.appendChild(element); return l; }
  function legend(css, left, right) { var d = document.createElement("span"); d.textContent = left;
    var bar = document.createElement("span"); bar.id = "legend"; bar.style.background = css; d.appendChild(bar);
    d.appendChild(document.createTextNode(right)); return d; }

  function drawUnit() {
    var row = seriesIndex(state.layer, state.kind) * H + state.unit;
    for (var t = 0; t < T; t++) { spans[t].style.backgroundColor = diverging(activation(row, t)); }
    controls.textContent = "";
    var layers = []; for (var k = 0; k < data.layers; k++) { layers.push([k, String(k)]); }
    var units = []; for (var u = 0; u < H; u++) { units.push([u, String(u)]); }
    controls.appendChild(label("layer", select(layers, state.layer, function (v) { go("unit=" + v + "," + state.kind + "," + state.unit); })));
    controls.appendChild(label("state", select(data.states.map(function (s) { return [s, s === "c" ? "c (cell state)" : s + " (hidden)"]; }),
      state.kind, function (v) { go("unit=" + state.layer + "," + v + "," + state.unit); })));
    controls.appendChild(label("unit", select(units, state.unit, function (v) { go("unit=" + state.layer + "," + state.kind + "," + v); })));
    controls.appendChild(legend("linear-gradient(to right," + diverging(-1) + "," + diverging(0) + "," + diverging(1) + ")", "-1", "+1"));
  }
  function drawSurprise() {
    for (var t = 0; t < T; t++) { var b = data.bits[t];
      spans[t].style.backgroundColor = b === null ? "rgb(238,238,238)" : sequential(b / maxBits, 230, 60, 40); }
    controls.textContent = "";
    controls.appendChild(legend("linear-gradient(to right,#fff,rgb(230,60,40))", "0 bits", maxBits.toFixed(1) + " bits or more"));
    var hint = document.createElement("span"); hint.style.marginLeft = "14px";
    hint.textContent = "hover a token for the model's top five predictions"; controls.appendChild(hint);
  }
  function drawFeatures() {
    var f = data.features[state.feature], values = f.values, top = 0;
    for (var t = 0; t < T; t++) { top = Math.max(top, values[t]); }
    for (t = 0; t < T; t++) { spans[t].style.backgroundColor = sequential(top ? values[t] / top : 0, 60, 170, 90); }
    controls.textContent = "";
    controls.appendChild(document.createTextNode("the text coloured by the feature \\u201c" + f.label +
      "\\u201d; click a unit to see it"));
    panel.textContent = "";
    Object.keys(data.ranked).forEach(function (name) {
      if (!data.ranked[name].length) { var c = document.createElement("h2"); c.textContent = data.features[name].label + ": constant in this text";
        c.style.color = "#888"; panel.appendChild(c); return; }
      var h = document.createElement("h2"); h.textContent = data.features[name].label;
      if (name === state.feature) { h.className = "current"; }
      h.style.cursor = "pointer"; h.addEventListener("click", function () { go("features=" + name); });
      panel.appendChild(h); var ol = document.createElement("ol");
      data.ranked[name].forEach(function (e) { var li = document.createElement("li");
        li.textContent = "layer " + e.layer + " " + e.state + " unit " + e.unit + "  r = " + (e.r >= 0 ? "+" : "") + e.r.toFixed(3);
        li.dataset.unit = e.layer + "," + e.state + "," + e.unit;
        li.addEventListener("click", function () { go("unit=" + li.dataset.unit); }); ol.appendChild(li); });
      panel.appendChild(ol); });
  }
  function hover(t) {
    if (state.view === "surprise") {
      var b = data.bits[t], p = data.predictions[t];
      info.textContent = shown(t) + (b === null ? "  (not predicted)" : "  " + b.toFixed(2) + " bits") +
        (p ? "   top: " + p.map(function (x) { return x[0] + " " + percent(x[1]); }).join("  ") : "");
    } else if (state.view === "unit") {
      var row = seriesIndex(state.layer, state.kind) * H + state.unit;
      info.textContent = shown(t) + "  layer " + state.layer + " " + state.kind + " unit " + state.unit + " = " + activation(row, t).toFixed(3);
    } else { info.textContent = shown(t) + "  " + data.features[state.feature].label + " = " + data.features[state.feature].values[t]; }
  }
  document.getElementById("text").addEventListener("mouseover", function (event) {
    var target = event.target; if (target.parentNode !== this) { return; }
    var t = Array.prototype.indexOf.call(spans, target); hover(t);
    if (state.view === "surprise") { var p = data.predictions[t];
      target.title = p ? p.map(function (x) { return x[0] + "  " + percent(x[1]); }).join("\\n") : ""; }
    else { target.title = ""; } });

  function go(hash) { location.hash = hash; }
  function parse() {
    var hash = decodeURIComponent(location.hash.replace(/^#/, "")), parts = hash.split("=");
    var view = parts[0] || "unit";
    if (view === "unit" && parts[1]) { var a = parts[1].split(",");
      var layer = parseInt(a[0], 10), kind = a[1], unit = parseInt(a[2], 10);
      if (layer >= 0 && layer < data.layers && seriesIndex(layer, kind) >= 0 && unit >= 0 && unit < H) {
        state.layer = layer; state.kind = kind; state.unit = unit; } }
    else if (view === "unit" && !parts[1] && !parse.chosen) { var best = data.ranked[data.best_feature][0];
      if (best) { state.layer = best.layer; state.kind = best.state; state.unit = best.unit; } }
    if (view === "features" && parts[1] && data.features[parts[1]]) { state.feature = parts[1]; }
    parse.chosen = true;
    state.view = ["unit", "surprise", "features"].indexOf(view) >= 0 ? view : "unit";
    ["unit", "surprise", "features"].forEach(function (v) {
      document.getElementById("nav-" + v).className = v === state.view ? "active" : ""; });
    panel.style.display = state.view === "features" ? "block" : "none";
    info.textContent = "\u00a0";
    if (state.view === "unit") { drawUnit(); } else if (state.view === "surprise") { drawSurprise(); } else { drawFeatures(); }
    var picked = document.querySelector("#text .picked"); if (picked) { picked.className = ""; }
    var at = parseInt(parts[1], 10);  // #surprise=N: the N-th token's predictions, as on hover
    if (state.view === "surprise" && at >= 0 && at < T) { spans[at].className = "picked"; hover(at); }
    document.body.dataset.view = state.view;
  }
  window.addEventListener("hashchange", parse);
  parse();
  if (window.pageErrors.length) { document.getElementById("errors").textContent = window.pageErrors.join("\\n"); }
  document.body.dataset.ready = "true";
})();
</script>
</body></html>
"""
