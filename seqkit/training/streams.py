"""The text a run trains and validates on: a char-level vocabulary's size checked, and the
corpus split (or a --val-file read) and cut into parallel streams, their sizes checked first."""
from seqkit.data import batchify, read_text, split_ids
from seqkit.rundir import TrainingError
from seqkit.vocab import SPECIALS

MAX_CHAR_VOCAB = 10_000  # distinct characters beyond which a char-level corpus needs --max-vocab


def run_streams(config, vocab, ids):
    """(train_streams (T_total, B), val_streams) of a TrainConfig, from the corpus's `ids`. As many
    validation streams as fit, up to the batch, so that evaluation runs batched like training."""
    if config.val_file:
        train_ids, val_ids = ids, vocab.encode(read_text(config.val_file, config.encoding, config.encoding_errors))
    else:
        train_ids, val_ids = split_ids(ids, config.val_fraction, config.val_blocks)
    needed = config.batch_size * (config.seq_len + 1)
    if len(train_ids) < needed:
        raise TrainingError(f"the training text has {len(train_ids)} tokens, but --batch-size "
                            f"{config.batch_size} streams of --seq-len {config.seq_len} need at least "
                            f"{needed}: use a longer corpus or lower those options")
    if len(val_ids) < 2:
        raise TrainingError(f"the validation text has {len(val_ids)} tokens, too few to evaluate: "
                            f"raise --val-fraction or give a --val-file")
    val_batch = max(1, min(config.batch_size, len(val_ids) // (config.seq_len + 1)))
    return batchify(train_ids, config.batch_size), batchify(val_ids, val_batch)


def check_vocab_size(vocab, source):
    """Refuse a char-level vocabulary of over MAX_CHAR_VOCAB characters, unless max_vocab asked
    for it: text in a wrong encoding or not text at all, or a script with more characters than a
    char-level softmax should carry."""
    characters = len(vocab) - len(SPECIALS)
    options = vocab.options
    if options.level == "char" and options.max_vocab is None and characters > MAX_CHAR_VOCAB:
        raise TrainingError(f"{source} has {characters:,} distinct characters, more than the {MAX_CHAR_VOCAB:,} "
                            f"a char-level model is meant for (is --encoding right?): keep the most frequent "
                            f"with --max-vocab or --min-count, or use --level word")
