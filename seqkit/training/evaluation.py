"""Loss over token streams: training's validation and `seqkit eval` compute it the same way, over
a whole text and, for a labelled model, over the units of each label."""
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
