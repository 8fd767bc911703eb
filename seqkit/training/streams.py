"""The text a run trains and validates on: the corpus's files found, tokenized (in memory for a
small corpus, into a memory-mapped token file in the cache for one of CACHE_FROM bytes or more,
found there again by the next run on the same files), a char-level vocabulary's size checked,
and the ids split (or a val_file read) and laid out as parallel streams, their sizes checked
first. The streams read the ids where they are, map or array, without copying the corpus."""
import hashlib
import os
from pathlib import Path

from seqkit.errors import TrainingError, option, setting
from seqkit.runs.directory import corpus_paths
from seqkit.runs.tokenfile import FileSink, Unusable, cache_dir, cache_key, open_token_file
from seqkit.text.batching import Streams, split_ranges
from seqkit.text.files import CorpusFile, find_files
from seqkit.text.options import SPECIALS
from seqkit.text.tokens import MemorySink, Tokens, encode_files

MAX_CHAR_VOCAB = 10_000  # distinct characters beyond which a char-level corpus needs --max-vocab
CACHE_FROM = 64 << 20  # corpora of this many bytes or more are tokenized into a token file and mapped
HASH_PIECE = 1 << 22


def find_corpus(config):
    """seqkit.text.files.Found: the files of the run's corpus (the shipped one by default)."""
    return find_files(corpus_paths(config), config.text.label_from, config.encoding, config.encoding_errors)


def load_tokens(config, files, given=None, extend=False, expected=None, changed=None, progress=None):
    """Tokens of CorpusFiles with the run's options: a new vocabulary, or `given`'s (extend:
    with the new tokens added). expected: the sha256 each file must have (a run resumed), and
    changed(path) the error to raise for one that differs. progress(what, done, total) as the
    files' bytes are read: "tokenizing", and first "checking" for a mapped corpus, whose
    digests find its token file."""
    options = given.options if given is not None else config.text
    total = sum(f.size for f in files)
    if total < CACHE_FROM:
        vocab, ids, _, documents, records = encode_files(files, options, MemorySink(), config.encoding,
                                                         config.encoding_errors, given, extend,
                                                         on_read=_reader(progress, "tokenizing", total))
        _check_expected(records, expected, changed)
        return Tokens(vocab, ids, documents, records)
    checking = _reader(progress, "checking", total)
    digests = [file_sha256(f.path, checking) for f in files]
    records = [{"path": f.path, "bytes": f.size, "sha256": d, "label": f.label} for f, d in zip(files, digests)]
    _check_expected(records, expected, changed)
    notes = []
    wanted = [(None, False), (given, extend)] if given is not None and not extend else [(given, extend)]
    for vocab_asked, extending in wanted:  # a new run's token file serves its resumes and fine-tunings too
        key = cache_key(options, config.encoding, config.encoding_errors, records, vocab_asked, extending)
        path = cache_dir() / f"{key}.tokens"
        try:
            ids, vocab, documents = open_token_file(path, records, None if extending else given)
        except FileNotFoundError:
            continue
        except Unusable as why:
            if vocab_asked is given:
                notes.append(f"the token file {path} is not usable ({why}): tokenizing again")
            continue
        return Tokens(vocab, ids, documents, records, str(path), cached=True, notes=notes)
    sink = FileSink(cache_dir(), key)
    vocab, ids, path, documents, _ = encode_files(files, options, sink, config.encoding, config.encoding_errors, given,
                                                  extend, expected=digests, on_read=_reader(progress, "tokenizing", total))
    return Tokens(vocab, ids, documents, records, path, notes=notes)


def _reader(progress, what, total):
    """on_read(n) for the tokenizer that calls progress(what, done, total), or None."""
    if progress is None:
        return None
    done = [0]

    def on_read(n):
        done[0] += n
        progress(what, done[0], total)
    return on_read


def _check_expected(records, expected, changed):
    if expected is not None:
        for record, digest in zip(records, expected):
            if record["sha256"] != digest:
                raise changed(record["path"])


def file_sha256(path, on_read=None):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(HASH_PIECE):
            digest.update(block)
            if on_read is not None:
                on_read(len(block))
    return digest.hexdigest()


def files_of(records):
    """CorpusFiles of recorded files ({"path", "label"}), as they are now (their size and time
    of change, which reading them checks again)."""
    found = []
    for record in records:
        info = os.stat(record["path"])
        found.append(CorpusFile(str(record["path"]), info.st_size, info.st_mtime_ns, record.get("label")))
    return found


def val_tokens(config, vocab):
    """Tokens of config.val_file in the run's vocabulary (labelled as the corpus is), or None."""
    if not config.val_file:
        return None
    files = find_files([config.val_file], config.text.label_from, config.encoding, config.encoding_errors).files
    return load_tokens(config, files, vocab)


def run_streams(config, tokens, val=None):
    """(train_streams (T_total, B), val_streams) of a TrainConfig, as seqkit.text.batching.Streams
    over the corpus's Tokens: the validation share taken from every file, or the Tokens `val`
    of a val_file. As many validation streams as fit, up to the batch, so that evaluation runs
    batched like training."""
    if val is not None:
        train, val_ids, held = list(tokens.documents), val.ids, [(0, len(val.ids))]
    else:
        train, held = split_ranges(tokens.documents, config.val_fraction, config.val_blocks)
        val_ids = tokens.ids
    train_tokens = sum(stop - start for start, stop in train)
    val_count = sum(stop - start for start, stop in held)
    needed = config.batch_size * (config.seq_len + 1)
    if train_tokens < needed:
        raise TrainingError(f"the training text has {train_tokens} tokens, but {setting('batch_size', config.batch_size)} "
                            f"streams of {setting('seq_len', config.seq_len)} need at least {needed}: use a longer "
                            f"corpus or lower those options")
    if val_count < 2:
        raise TrainingError(f"the validation text has {val_count} tokens, too few to evaluate: "
                            f"raise {option('val_fraction')} or give a {option('val_file')}")
    val_batch = max(1, min(config.batch_size, val_count // (config.seq_len + 1)))
    return Streams(tokens.ids, train, config.batch_size), Streams(val_ids, held, val_batch)


def check_vocab_size(vocab, source):
    """Refuse a char-level vocabulary of over MAX_CHAR_VOCAB characters, unless max_vocab asked
    for it: text in a wrong encoding or not text at all, or a script with more characters than a
    char-level softmax should carry."""
    characters = len(vocab) - len(SPECIALS) - len(vocab.labels)
    options = vocab.options
    if options.level == "char" and options.max_vocab is None and characters > MAX_CHAR_VOCAB:
        raise TrainingError(f"{source} has {characters:,} distinct characters, more than the {MAX_CHAR_VOCAB:,} "
                            f"a char-level model is meant for (is {option('encoding')} right?): keep the most frequent "
                            f"with {option('max_vocab')} or {option('min_count')}, or use {setting('level', 'word')}")


def describe(paths):
    """How a message names a corpus given as paths."""
    return str(paths[0]) if len(paths) == 1 else f"{Path(paths[0])} and {len(paths) - 1} more"
