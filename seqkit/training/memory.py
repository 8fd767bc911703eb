"""What a training run needs of memory, estimated before anything is allocated, so that an
option too large for the machine is refused by name instead of ending in a MemoryError
traceback or an out-of-memory kill."""
import numpy as np

from seqkit import cells
from seqkit._memory import available_bytes, gigabytes
from seqkit.errors import TrainingError, option
from seqkit.optim.optimizers import state_slots


def training_bytes(config, vocab_size):
    """{part: bytes} for a TrainConfig with this vocabulary: "weights" (parameters, gradients
    and the optimizer's state), "vocabulary" (the same for the embedding and output layer) and
    "activations" (one step's, the logits included). The first two are exact; the whole came
    within 15% of the peak growth of training 2x512 and 3x256 char-level and 2x650 word-level
    LSTMs."""
    cell = cells.get(config.cell)
    G, H, L, V, E = cell.gates, config.hidden, config.layers, vocab_size, config.embed
    T, B = config.seq_len, config.batch_size
    first_input = E if E is not None else V
    recurrent = G * H * (first_input + H + 2) + (L - 1) * G * H * (2 * H + 2)
    vocabulary = (V * E if E is not None else 0) + (0 if config.tie_weights else V * H) + V
    per_parameter = (2 + state_slots(config.optimizer)) * np.dtype(config.dtype).itemsize
    per_step = (L * (cell.state_size + cell.cache_size + 4 * G + cell.scratch_size + 6) * H + 3 * V) * T * B
    return {"weights": recurrent * per_parameter, "vocabulary": vocabulary * per_parameter,
            "activations": per_step * np.dtype(config.dtype).itemsize}


LOWER = {"weights": f"{option('hidden')} or {option('layers')}",
         "corpus": "the corpus's size",
         "activations": f"{option('batch_size')} or {option('seq_len')} (or {option('hidden')}, {option('layers')})",
         "vocabulary": f"{option('max_vocab')} (or {option('hidden')}, {option('embed')})"}


def check_training_fits(config, vocab_size, corpus_bytes=0, available=None):
    """Refuse a configuration whose training needs more memory than is available, naming the
    options whose part needs most. corpus_bytes: the token ids held in memory; a corpus mapped
    from its token file (seqkit.runs.tokenfile) counts nothing, since its pages are read from
    disk as training reaches them and the system may drop them again, so a corpus far larger
    than memory trains."""
    available = available_bytes() if available is None else available
    needs = {**training_bytes(config, vocab_size), "corpus": corpus_bytes}
    if available is None or sum(needs.values()) <= available:
        return
    largest = max(needs, key=needs.get)
    raise TrainingError(f"training this model needs about {gigabytes(sum(needs.values()))} of memory, more than "
                      f"the {gigabytes(available)} available: lower {LOWER[largest]}")
