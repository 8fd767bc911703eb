"""Loss over token streams: training's validation and `seqkit eval` compute it the same way."""
import math

import numpy as np

from seqkit.nn.workspace import Workspace
from seqkit.text.batching import chunks


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
