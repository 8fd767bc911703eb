"""seqkit serve under load: requests per second and p50/p99 latency of 100-token samples at 1, 8
and 32 concurrent clients, the first-event latency of a streamed sample, and the server's peak
resident memory.

    python bench/serve_load.py [--seconds 10] [--length 100]   # where seqkit[serve] is installed

The model is an untrained 2x256 char-level LSTM (one training step on the shipped corpus's first
100,000 characters, into a temporary directory): its weights do not change the time a token
takes. The server is `python -m seqkit serve` in a subprocess on a free 127.0.0.1 port; the
clients are threads here, each with its own keep-alive connection (http.client), sending
POST /v1/sample {"length": 100, "temperature": 0.8, "seed": i} one after another for --seconds.
The clients share the machine's cores with the server, as they would on one machine.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CONCURRENCY = (1, 8, 32)


def make_run(root):
    """An untrained 2x256 LSTM run (one step), as `seqkit train` writes it."""
    from seqkit.config import TrainConfig
    from seqkit.corpora import path as shipped
    from seqkit.training.trainer import Trainer
    corpus = os.path.join(root, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as file:
        file.write(shipped().read_text()[:100_000])
    config = TrainConfig(corpus=corpus, cell="lstm", layers=2, hidden=256, steps=1, eval_every=1, sample_length=0,
                         batch_size=8, seq_len=32, seed=0)
    run = os.path.join(root, "run")
    Trainer.start(config, run).run()
    return run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run, port):
    process = subprocess.Popen([sys.executable, "-m", "seqkit", "serve", run, "--port", str(port),
                                "--max-queue", "256"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("seqkit serve ended: " + process.stderr.read())
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("seqkit serve did not answer within 300 s")


def peak_rss_mb(pid):
    """VmHWM, the peak resident set, of process pid in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load(port, clients, seconds, length):
    """(requests per second, [latencies in s], failures) of `clients` threads for `seconds`."""
    latencies, failures, lock = [], [0], threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        seed = index * 1_000_000
        while time.perf_counter() < stop_at:
            body = json.dumps({"length": length, "temperature": 0.8, "seed": seed})
            seed += 1
            start = time.perf_counter()
            connection.request("POST", "/v1/sample", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            took = time.perf_counter() - start
            with lock:
                if response.status == 200:
                    latencies.append(took)
                else:
                    failures[0] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - began), latencies, failures[0]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def first_events(port, length, prime="ROMEO:"):
    """Seconds to a streamed sample's first event (the prime) and to its first drawn text, read
    off a plain socket (http.client's chunked reading waits on buffers of its own)."""
    body = json.dumps({"length": length, "prime": prime, "seed": 1, "stream": True}).encode()
    request = (f"POST /v1/sample HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
        start = time.perf_counter()
        connection.sendall(request)
        seen, times = b"", []
        while len(times) < 2:
            data = connection.recv(65536)
            if not data:
                break
            seen += data
            while len(times) < seen.count(b"data: "):
                times.append(time.perf_counter() - start)
    return times[0], times[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="seconds of load at each concurrency")
    parser.add_argument("--length", type=int, default=100, help="tokens of each sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        run = make_run(root)
        port = free_port()
        server = start_server(run, port)
        try:
            load(port, 2, 2, args.length)  # warm: the first requests of each thread
            print(f"seqkit serve, 2x256 char LSTM, {args.length}-token samples, {args.seconds:g} s per row")
            print("| clients | requests/s | tokens/s | p50 latency | p99 latency | failed |")
            print("|---|---|---|---|---|---|")
            for clients in CONCURRENCY:
                rate, latencies, failed = load(port, clients, args.seconds, args.length)
                print(f"| {clients} | {rate:.1f} | {rate * args.length:,.0f} | "
                      f"{statistics.median(latencies) * 1000:.0f} ms | {percentile(latencies, 0.99) * 1000:.0f} ms | "
                      f"{failed} |")
            for length in (args.length, 10_000):
                runs = [first_events(port, length) for _ in range(5)]
                first = statistics.median(r[0] for r in runs)
                drawn = statistics.median(r[1] for r in runs)
                print(f"streamed, length {length:,}: first event (the prime) {first * 1000:.1f} ms, first drawn text "
                      f"({min(length, 1024):,} tokens, one block) {drawn * 1000:.1f} ms (medians of 5, no other load)")
            print(f"server peak resident memory (VmHWM): {peak_rss_mb(server.pid):.0f} MB")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
