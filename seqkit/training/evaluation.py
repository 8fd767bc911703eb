"""Loss over token streams: training's validation and `seqkit eval` compute it the same way, over
a whole text and, for a labelled model, over the units of each label; and the state the model
reads <s> from, which training records for samples to start from."""
import math

import numpy as np

from seqkit.nn.workspace import Workspace
from seqkit.text.batching import Streams, chunks
from seqkit.text.options import BOS_ID, EOS_ID


def evaluate_streams(model, streams, seq_len, ignore_id):
    """Summed loss and number of predicted tokens over streams (T_total, B), the state carried
    across chunks from zeros, no dropout; targets equal to ignore_id (<s>) are not counted."""
    total, count, state, workspace = 0.0, 0, None, Workspace()
    for _, inputs, targets in chunks(streams, seq_len):
        loss, state, _ = model.forward(inputs, targets, state, ignore_index=ignore_id, workspace=workspace,
                                       gradients=False)
        counted = int(np.count_nonzero(targets != ignore_id))
        total += loss * counted
        count += counted
    return total, count


def summarize(loss_sum, count, level):
    """Loss in nats per token, perplexity and (char level) bits per character."""
    loss = loss_sum / max(count, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700)),
            "bits_per_char": loss / math.log(2) if level == "char" else None, "tokens": count}


def start_state_sums(model, streams, seq_len, eos):
    """(sums, count): the sum of the states (per layer (S, H), float64) after each `eos` (</s>)
    in streams (T_total, B), as the model runs over them from zeros with the state carried, no
    dropout, and how many there were. Their mean is the state the model reads the next <s>
    from in training, where units follow each other: samples and scores start a unit there
    (from zeros, the state a model sees once an epoch, they begin with text the corpus
    hardly holds)."""
    p = model.parameters
    sums = [np.zeros((layer.state_size, layer.hidden_size)) for layer in model.layers]
    count, state = 0, [None] * len(model.layers)
    for _, inputs, _ in chunks(streams, seq_len):
        inputs = np.ascontiguousarray(inputs, np.int64)
        ends = inputs == eos
        x = None if model.one_hot else p["embedding.weight"][inputs]
        for k, layer in enumerate(model.layers):
            if x is None:
                xproj = np.ascontiguousarray(layer.params["weight_ih"].T[inputs] + layer.params["bias_ih"])
                x, state[k], (states, _) = layer.forward_projected(xproj, state[k])
            else:
                x, state[k], (_, (states, _)) = layer.forward(np.ascontiguousarray(x), state[k])
            sums[k] += states[:, 1:][:, ends].sum(axis=1, dtype=np.float64)  # (S, T, B, H)[:, mask] -> (S, n, H)
        count += int(np.count_nonzero(ends))
    return sums, count


def evaluate_ids(model, ids, seq_len, ignore_id, level):
    """summarize's metrics over ids (N,) (an array or a memory map) as one stream from zeros."""
    if len(ids) < 2:
        raise ValueError("the text has no token to predict")
    return summarize(*evaluate_streams(model, Streams(ids, [(0, len(ids))], 1), seq_len, ignore_id), level)


def label_units(ids, labels):
    """{label: [(start, stop)]} of the units of ids that begin with <s> and a label's id (labels:
    vocab.labels), each unit up to its </s>."""
    ids = np.asarray(ids)
    by_id = {i: name for name, i in labels.items()}
    starts = np.flatnonzero((ids[:-1] == BOS_ID) & np.isin(ids[1:], list(by_id)))
    ends = np.flatnonzero(ids == EOS_ID)
    stops = ends[np.minimum(np.searchsorted(ends, starts), len(ends) - 1)] + 1 if len(ends) else starts
    units: dict = {}
    for start, stop in zip(starts.tolist(), stops.tolist()):
        units.setdefault(by_id[int(ids[start + 1])], []).append((start, max(stop, start + 2)))
    return units


def evaluate_labels(model, ids, seq_len, ignore_id, level, labels):
    """{label: summarize's metrics} over each label's units, joined as one stream from zeros."""
    found = {}
    for name, units in sorted(label_units(ids, labels).items()):
        found[name] = summarize(*evaluate_streams(model, Streams(ids, units, 1), seq_len, ignore_id), level)
    return found
