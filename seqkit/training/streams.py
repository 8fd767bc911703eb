"""The text a run trains and validates on: a char-level vocabulary's size checked, and the
corpus split (or a --val-file read) and cut into parallel streams, their sizes checked first."""
from seqkit.errors import TrainingError, option, setting
from seqkit.text.batching import batchify, split_ids
from seqkit.text.corpus import read_text
from seqkit.text.options import SPECIALS

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
        raise TrainingError(f"the training text has {len(train_ids)} tokens, but {setting('batch_size', config.batch_size)} "
                            f"streams of {setting('seq_len', config.seq_len)} need at least {needed}: use a longer "
                            f"corpus or lower those options")
    if len(val_ids) < 2:
        raise TrainingError(f"the validation text has {len(val_ids)} tokens, too few to evaluate: "
                            f"raise {option('val_fraction')} or give a {option('val_file')}")
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
                            f"a char-level model is meant for (is {option('encoding')} right?): keep the most frequent "
                            f"with {option('max_vocab')} or {option('min_count')}, or use {setting('level', 'word')}")
