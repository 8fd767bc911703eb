"""The per-step product of a recurrence, h (B, H) @ W_hh.T (H, G*H), through the BLAS seqkit
uses (OpenBLAS: Numba's np.dot calls SciPy's, NumPy's is the same library) and through
PyTorch's (MKL in its x86 wheels), same shapes, same threads: where the batched RNN and GRU
rows, which both frameworks run as one product per step, are decided; and the same product
taken the other way round and transposed, as seqkit does below batch 64. Then OpenBLAS's product
for a whole batch on 2 threads against half the batch on 1 thread, what each of two processes
of `mpiexec -n 2` computes (bench/scaling.py).

    pip install torch==2.13.0 threadpoolctl
    python bench/blas_peer.py
"""

from timing import median_ms, use_cpu_kernels

use_cpu_kernels()  # before numpy loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

SHAPES = [(batch, hidden, gates) for gates in (1, 3, 4) for hidden in (128, 256, 512) for batch in (16, 32, 64)]
NAMES = {1: "rnn", 3: "gru", 4: "lstm"}


def median_us(product):
    return 1e3 * median_ms(product, repeats=2001, warmup=50)


def main():
    print("BLAS:", ", ".join(sorted({f"{i['internal_api']} {i.get('architecture') or ''} {i['num_threads']} threads"
                                     for i in threadpool_info()})), "| torch", torch.__version__,
          torch.get_num_threads(), "threads")
    print(f"{'h @ W_hh.T':<28}{'OpenBLAS us':>12}{'PyTorch us':>12}{'OpenBLAS GF/s':>15}{'PyTorch GF/s':>14}{'ratio':>7}"
          f"{'W_hh @ h.T, transposed us':>27}")
    rng = np.random.default_rng(0)
    for batch, hidden, gates in SHAPES:
        h = rng.standard_normal((batch, hidden), np.float32)
        w = rng.standard_normal((gates * hidden, hidden), np.float32)
        out = np.empty((batch, gates * hidden), np.float32)
        th, tw, tout = torch.from_numpy(h), torch.from_numpy(w), torch.from_numpy(out.copy())
        ours = median_us(lambda: np.dot(h, w.T, out))
        turned = np.empty((gates * hidden, batch), np.float32)

        def other_way():  # what seqkit.cells.activations.hidden_product does below batch 64
            np.dot(w, h.T, turned)
            out[:] = turned.T
        other = median_us(other_way)
        theirs = median_us(lambda: torch.mm(th, tw.t(), out=tout))
        flops = 2 * batch * hidden * gates * hidden / 1e3
        print(f"{NAMES[gates]} H {hidden} batch {batch}".ljust(28) + f"{ours:>12.1f}{theirs:>12.1f}"
              f"{flops / ours:>15.1f}{flops / theirs:>14.1f}{theirs / ours:>7.2f}{other:>27.1f}")
    print(f"\n{'OpenBLAS h @ W_hh.T':<28}{'batch, 2 thr us':>16}{'half, 1 thr us':>16}{'ratio':>7}")
    for batch, hidden, gates in SHAPES:
        w = rng.standard_normal((gates * hidden, hidden), np.float32)
        timed = {}
        for rows, threads in ((batch, 2), (batch // 2, 1)):
            h = rng.standard_normal((rows, hidden), np.float32)
            out = np.empty((rows, gates * hidden), np.float32)
            with threadpool_limits(threads, user_api="blas"):
                timed[threads] = median_us(lambda: np.dot(h, w.T, out))
        print(f"{NAMES[gates]} H {hidden} batch {batch}".ljust(28) + f"{timed[2]:>16.1f}{timed[1]:>16.1f}"
              f"{timed[2] / timed[1]:>7.2f}")


if __name__ == "__main__":
    main()
