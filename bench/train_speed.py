"""Training throughput and peak memory, seqkit against PyTorch on the same model and machine.

    python -m venv /tmp/bench && . /tmp/bench/bin/activate
    pip install torch==2.13.0 . && python bench/train_speed.py --quick     # about 2 minutes
    python bench/train_speed.py                                              # the full matrix
    python bench/train_speed.py --onednn       # LSTM against PyTorch with and without oneDNN
    python bench/train_speed.py --word         # the word-level rows alone
    python bench/train_speed.py --row lstm 2 256 16 64   # rows of your own: cell layers hidden batch seq_len [vocab]
    python bench/train_speed.py --default      # seqkit train's own model: char 2x256 LSTM, embedding 64

A training step is what `seqkit train` does per chunk: embedding -> L recurrent layers ->
linear -> softmax cross-entropy -> backward -> clip to global norm 5 -> Adam, float32,
vocabulary 65, embedding size = hidden size, hidden state carried, sequence length 100
unless the config says otherwise. The word-level rows are pytorch/examples
word_language_model's sizes: vocabularies of 10,000 (Penn Treebank's) and 33,278
(WikiText-2's), hidden 200 and 650, batch 20, 35 steps; there the output layer and the
softmax over the vocabulary are most of a step.

Each framework runs in a worker process of its own, started afresh for every config (so that
neither's threads or memory touch the other's figures) and driven from here in turns:
seqkit, PyTorch, seqkit, PyTorch... after a warm-up; the table gives medians. Numba's
compile time is excluded from throughput and reported apart. GFLOP/s counts the matrix
products (forward, and twice that for backward); the peak it is set against is float32 GEMM
(np.dot, 4096 x 4096) measured at the start of the same run with 1 and with 2 threads. Peak
memory is the worker's peak resident set size during the timed steps above its size before
the model was built.

--default times what `seqkit train` trains by default, as the command steps it (Trainer's own
step on the shipped corpus: embedding 64, dropout 0.1 after each layer, batch 16, 64 steps,
clipping to norm 5, Adam at 4e-3, float32) against the same model in PyTorch (nn.Embedding 64,
nn.LSTM(64, 256, 2, dropout=0.1) and nn.Dropout(0.1) on its output, nn.Linear, the same loss,
clipping and optimiser), on the same token streams.

The full run ends with a few LSTM rows timed a third way: PyTorch with its oneDNN RNN kernels
switched off (torch.backends.mkldnn.enabled = False), which shows how much of PyTorch's LSTM
speed on a CPU is oneDNN's fused LSTM rather than PyTorch's own per-step code.

OpenBLAS (NumPy's and SciPy's, which seqkit's kernels call) picks its kernels for the CPU
unless OPENBLAS_CORETYPE forces a choice; this bench removes such a setting from the workers'
environment unless --keep-coretype is given, and prints the choice OpenBLAS made.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

V, T = 65, 100  # a config's vocabulary is V unless it names one
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FULL = [(cell, layers, hidden, batch, T, 2) for cell in ("rnn", "lstm", "gru") for layers in (1, 2)
        for hidden in (128, 256, 512) for batch in (1, 32, 64)]
ONE_THREAD = [("lstm", 2, 128, 64, T, 1), ("lstm", 2, 512, 32, T, 1), ("gru", 2, 512, 1, T, 1),
              ("rnn", 1, 128, 64, T, 1)]
SCALING = [("lstm", 2, 256, 32, seq_len, 2) for seq_len in (25, 50, 200, 400)]
QUICK = [("lstm", 2, 128, 64, T, 2), ("lstm", 2, 512, 32, T, 2), ("gru", 2, 512, 1, T, 2),
         ("rnn", 1, 128, 64, T, 2), ("lstm", 1, 128, 32, T, 2)]
WORD = [("lstm", 2, 200, 20, 35, 2, 10000), ("lstm", 2, 650, 20, 35, 2, 10000), ("lstm", 2, 650, 20, 35, 2, 33278)]
# PyTorch's CPU LSTM runs on oneDNN's fused RNN primitive; these rows time it with and without.
ONEDNN = [("lstm", 1, 128, 32, T, 2), ("lstm", 2, 256, 32, T, 2), ("lstm", 2, 512, 32, T, 2),
          ("lstm", 2, 128, 1, T, 2), ("lstm", 2, 256, 1, T, 2)]


# --- the worker: one framework, one config, steps on request ------------------------------
def rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def seqkit_step(cell, layers, hidden, batch, seq_len, vocab=V):
    import numpy as np

    import seqkit
    from seqkit.optim.optimizers import clip_global_norm, make_optimizer
    model = seqkit.Model(vocab, hidden, layers, cell, embed_size=hidden, seed=0)
    optimizer = make_optimizer("adam", model.parameters, 2e-3)
    tokens = np.random.default_rng(0).integers(0, vocab, (seq_len + 1, batch))
    workspace, state = seqkit.Workspace(), [None]  # as seqkit train does

    def step():
        _, state[0], cache = model.forward(tokens[:-1], tokens[1:], state[0], workspace=workspace)
        grads, _ = model.backward(cache)
        clip_global_norm(grads, 5.0)
        optimizer.step(grads)
    return step


def seqkit_default_step():
    """Trainer._train_step of `seqkit train`'s default run on the shipped corpus."""
    import tempfile

    from seqkit import TrainConfig, Trainer
    trainer = Trainer.start(TrainConfig(steps=10 ** 9, seed=0), tempfile.mkdtemp() + "/run")
    return trainer._train_step, trainer.config


def torch_default_step():
    """The same model, data and update in PyTorch."""
    import tempfile

    import numpy as np
    import torch

    from seqkit import TrainConfig, Trainer
    trainer = Trainer.start(TrainConfig(steps=10 ** 9, seed=0), tempfile.mkdtemp() + "/run")
    # train_streams is a seqkit.text.batching.Streams (its corpus may be a memory map): as an array
    streams = torch.from_numpy(np.asarray(trainer.train_streams).astype("int64"))
    config, vocab = trainer.config, len(trainer.vocab)
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(vocab, config.embed)
    rnn = torch.nn.LSTM(config.embed, config.hidden, config.layers, dropout=config.dropout)
    dropout, output = torch.nn.Dropout(config.dropout), torch.nn.Linear(config.hidden, vocab)
    parameters = [*embedding.parameters(), *rnn.parameters(), *output.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    where, state = [0], [None]

    def step():
        i, T = where[0], config.seq_len
        if i + T + 1 > len(streams):
            i, state[0] = 0, None
        inputs, targets = streams[i:i + T], streams[i + 1:i + 1 + T]
        where[0] = i + T
        if state[0] is not None:
            state[0] = tuple(s.detach() for s in state[0])
        y, state[0] = rnn(embedding(inputs), state[0])
        loss = torch.nn.functional.cross_entropy(output(dropout(y)).reshape(-1, vocab), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, config.clip)
        optimizer.step()
    return step, config


def torch_step(cell, layers, hidden, batch, seq_len, vocab=V):
    import torch
    torch.manual_seed(0)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](hidden, hidden, layers)
    embedding, output = torch.nn.Embedding(vocab, hidden), torch.nn.Linear(hidden, vocab)
    parameters = [*embedding.parameters(), *rnn.parameters(), *output.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=2e-3)
    tokens = torch.randint(0, vocab, (seq_len + 1, batch), generator=torch.Generator().manual_seed(0))
    state = [None]

    def step():
        if state[0] is not None:
            state[0] = tuple(s.detach() for s in state[0]) if isinstance(state[0], tuple) else state[0].detach()
        y, state[0] = rnn(embedding(tokens[:-1]), state[0])
        loss = torch.nn.functional.cross_entropy(output(y).reshape(-1, vocab), tokens[1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
    return step


def worker(framework, config, seconds):
    """Build the step, warm up, then answer each line on stdin with a tokens/s figure; at end
    of input report the peak memory."""
    cell, layers, hidden, batch, seq_len, threads, *vocab = config
    if framework.startswith("torch"):
        import warnings

        import torch
        torch.set_num_threads(threads)
        # Setting mkldnn.enabled prints a warning about TF32 on Intel GPUs, which do not concern us.
        warnings.filterwarnings("ignore", "TF32 acceleration")
        torch.backends.mkldnn.enabled = framework != "torch-no-onednn"
    else:
        __import__("seqkit")  # loaded before the baseline, as torch is
    before = rss_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:  # restart VmHWM, the peak RSS, from here
        clear.write("5")
    if config[0] == "default":
        step, trained = (seqkit_default_step if framework == "seqkit" else torch_default_step)()
        batch, seq_len = trained.batch_size, trained.seq_len
    else:
        step = (seqkit_step if framework == "seqkit" else torch_step)(cell, layers, hidden, batch, seq_len, *vocab)
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    step()
    print(json.dumps({"first_step_s": first, "blas": blas_core()}), flush=True)
    for _ in sys.stdin:
        count, start = 0, time.perf_counter()
        while True:
            step()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        print(json.dumps({"tokens_per_s": count * seq_len * batch / elapsed}), flush=True)
    print(json.dumps({"peak_mib": (rss_kib("VmHWM") - before) / 1024}), flush=True)


def blas_core():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see)"
    return ", ".join(sorted({f"{i['internal_api']} {i.get('architecture') or ''}".strip() for i in threadpool_info()}))


def gemm_worker(n=4096):
    import numpy as np
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    np.dot(a, a)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        np.dot(a, a)
        times.append(time.perf_counter() - start)
    print(json.dumps({"gflops": 2 * n ** 3 / min(times) / 1e9, "blas": blas_core()}), flush=True)


# --- the driver ------------------------------------------------------------------------------
def environment(threads, options, extra=None):
    env = dict(os.environ, **(extra or {}))
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[variable] = str(threads)
    if not options.keep_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
    return env


def start(args, threads, options, extra=None):
    return subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=environment(threads, options, extra))


def ask(process, line=None):
    if line is not None:
        process.stdin.write(line + "\n")
        process.stdin.flush()
    answer = process.stdout.readline()
    if not answer:
        raise RuntimeError(f"a worker died: {process.args}")
    return json.loads(answer)


def flops_per_token(cell, layers, hidden, vocab=V):
    forward = layers * 2 * GATES[cell] * hidden * (hidden + hidden) + 2 * vocab * hidden
    return 3 * forward


def config_name(config):
    cell, layers, hidden, batch, seq_len, threads, *vocab = config
    return f"{cell} {layers}x{hidden} batch {batch} T {seq_len} thr {threads}" + "".join(f" V {v}" for v in vocab)


def measure(config, options, frameworks=("seqkit", "torch")):
    """Median tokens/s and peak MiB of each framework on one config, alternating."""
    threads = config[5]  # (cell, layers, hidden, batch, seq_len, threads[, vocab])
    workers = {name: start(["--worker", name, json.dumps(config)], threads, options)
               for name in frameworks}
    info = {name: ask(process) for name, process in workers.items()}
    rates = {name: [] for name in workers}
    for _ in range(options.rounds):
        for name, process in workers.items():
            # Let the other worker's idle threads stop spinning first: OpenMP and OpenBLAS keep
            # threads busy-waiting for a while after their last task, which would steal the cores.
            time.sleep(options.pause)
            rates[name].append(ask(process, "run")["tokens_per_s"])
    peaks = {}
    for name, process in workers.items():
        process.stdin.close()
        peaks[name] = ask(process)["peak_mib"]
        process.wait()
    median = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
    return median, peaks, info


def compile_seconds(options):
    """Seconds to the end of the first training step of each cell in a fresh process, with an
    empty Numba cache (compiling everything) and then with that cache filled."""
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("an empty cache", "a filled cache"):
            started = time.perf_counter()
            process = start(["--compile-only"], 2, options, {"NUMBA_CACHE_DIR": cache})
            ask(process)
            process.wait()
            results[label] = time.perf_counter() - started
    return results


def compile_only():
    for cell in ("lstm", "gru", "rnn"):
        seqkit_step(cell, 1, 8, 2, 3)()
    print(json.dumps({}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few representative configs (about 2 minutes)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds per config")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum seconds per timing")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds idle before each timing")
    parser.add_argument("--keep-coretype", action="store_true", help="keep OPENBLAS_CORETYPE if set")
    parser.add_argument("--onednn", action="store_true",
                        help="only the LSTM rows against PyTorch with and without oneDNN (about 3 minutes)")
    parser.add_argument("--word", action="store_true", help="only the word-level rows (about a minute)")
    parser.add_argument("--default", action="store_true", help="seqkit train's default model against PyTorch's")
    parser.add_argument("--row", nargs="+", action="append", metavar="CELL LAYERS HIDDEN BATCH SEQ_LEN [VOCAB]",
                        help="time this row alone (2 threads); repeat for more")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--compile-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gemm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("config", nargs="?", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        return worker(options.worker, json.loads(options.config), options.seconds)
    if options.compile_only:
        return compile_only()
    if options.gemm:
        return gemm_worker()

    import numpy
    import torch

    import seqkit
    peaks, answer = {}, None
    for threads in (1, 2):
        process = start(["--gemm"], threads, options)
        answer = ask(process)
        process.wait()
        peaks[threads] = answer["gflops"]
    print(f"seqkit {seqkit.__version__}, torch {torch.__version__}, numpy {numpy.__version__}, "
          f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; BLAS: {answer['blas']}"
          f"{'' if options.keep_coretype else ' (OPENBLAS_CORETYPE unset)'}")
    print(f"float32 GEMM peak: {peaks[1]:.0f} GFLOP/s with 1 thread, {peaks[2]:.0f} with 2")
    if not (options.quick or options.onednn or options.word or options.row):
        seconds = compile_seconds(options)
        print("Numba, to the end of a first training step of each cell: "
              + ", ".join(f"{s:.1f} s with {label}" for label, s in seconds.items()))
    if options.default:
        return default_row(options)
    if options.word or options.row:
        rows = [(cell, *map(int, numbers[:4]), 2, *map(int, numbers[4:])) for cell, *numbers in options.row or []]
        return main_table(WORD if options.word else rows, peaks, options)
    if not options.onednn:
        main_table(QUICK if options.quick else FULL + ONE_THREAD + SCALING + WORD, peaks, options)
    if not options.quick:
        onednn_table(options)


def main_table(configs, peaks, options):
    print(f"\n{'config':40s} {'seqkit tok/s':>12s} {'torch tok/s':>11s} {'ratio':>6s} {'seqkit GF/s':>11s} "
          f"{'% peak':>6s} {'torch GF/s':>10s} {'seqkit MiB':>10s} {'torch MiB':>9s}")
    for config in configs:
        cell, layers, hidden, batch, seq_len, threads, *vocab = config
        median, memory, info = measure(config, options)
        ours, theirs = median["seqkit"], median["torch"]
        flops = flops_per_token(cell, layers, hidden, *vocab)
        print(f"{config_name(config):40s} {ours:12,.0f} {theirs:11,.0f} {ours / theirs:6.2f} {ours * flops / 1e9:11.1f} "
              f"{100 * ours * flops / 1e9 / peaks[threads]:5.0f}% {theirs * flops / 1e9:10.1f} "
              f"{memory['seqkit']:10.0f} {memory['torch']:9.0f}", flush=True)


def default_row(options):
    """seqkit train's default model, as the command steps it, against the same in PyTorch."""
    config = ("default", 2, 256, 16, 64, 2)
    median, memory, _ = measure(config, options)
    ours, theirs = median["seqkit"], median["torch"]
    print(f"\n{'seqkit train default: char LSTM 2x256, embed 64, dropout 0.1, batch 16, T 64, thr 2':86s}\n"
          f"{'seqkit tok/s':>12s} {'torch tok/s':>11s} {'ratio':>6s} {'seqkit MiB':>10s} {'torch MiB':>9s}\n"
          f"{ours:12,.0f} {theirs:11,.0f} {ours / theirs:6.2f} {memory['seqkit']:10.0f} {memory['torch']:9.0f}")


def onednn_table(options):
    """What PyTorch's LSTM owes to oneDNN: the same rows with torch.backends.mkldnn.enabled off,
    which makes PyTorch run the LSTM as its own per-step matrix products and gate math."""
    print(f"\nLSTM against PyTorch with its oneDNN RNN kernels (as above) and without them\n"
          f"{'config':40s} {'seqkit tok/s':>12s} {'torch tok/s':>11s} {'no-oneDNN':>10s} {'ratio':>6s} "
          f"{'no-oneDNN ratio':>15s}")
    for config in ONEDNN:
        median, _, _ = measure(config, options, ("seqkit", "torch", "torch-no-onednn"))
        ours, theirs, plain = median["seqkit"], median["torch"], median["torch-no-onednn"]
        print(f"{config_name(config):40s} {ours:12,.0f} {theirs:11,.0f} {plain:10,.0f} {ours / theirs:6.2f} {ours / plain:15.2f}",
              flush=True)


if __name__ == "__main__":
    main()
