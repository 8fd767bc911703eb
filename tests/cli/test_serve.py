"""`seqkit serve` as a client meets it: a real server (`python -m seqkit serve`, uvicorn) on a free
127.0.0.1 port, real HTTP requests. The same text as `seqkit sample` for the same seed and options,
streamed or not; 32 requests side by side; every bad request answered with its status and a JSON
error naming the field while the server keeps serving; a client leaving mid-stream stops its
draw; the page at / streaming a sample in headless Chromium (installed by .ci/run); the token,
the queue's bound and --cors; and the command's own refusals (no extra, a host beyond this
machine without a token), one line each."""
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from shared import invoke

import seqkit

HUGE = 10 ** 9  # a length no test waits for: the servers here allow it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A `seqkit serve` process on 127.0.0.1, and its address; stop() ends it."""

    def __init__(self, run, *options, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "seqkit", "serve", str(run), "--port", str(self.port),
                                         *map(str, options)], stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})}, cwd=Path(__file__).parent)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"seqkit serve ended: {self.process.stderr.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("seqkit serve did not answer /health within 120 s")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.stderr.read()


@pytest.fixture(scope="module")
def server(char_run):
    served = Served(char_run, "--max-length", HUGE, "--max-count", 8, "--max-queue", 40)
    yield served
    served.stop()


def post(server, body, path="/v1/sample", **kwargs):
    return httpx.post(server.url + path, json=body, timeout=30, **kwargs)


def events(text):
    """Server-Sent Events as [(event, data decoded from JSON)]."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((fields.get("event", "message"), json.loads(fields["data"])))
    return found


def cli_sample(run, *options):
    result = invoke("sample", run, *options)
    assert result.exit_code == 0, result.output
    return result.stdout


# --- what a client asks for ---------------------------------------------------------------------
def test_health_and_the_model(server, char_run):
    assert httpx.get(server.url + "/health").json() == {"status": "ok", "in_flight": 0}
    model = httpx.get(server.url + "/v1/model").json()
    lm = seqkit.load(char_run)
    assert model["cell"] == "lstm" and model["layers"] == 1 and model["hidden"] == 16 and model["level"] == "char"
    assert model["vocab_size"] == len(lm.vocab) and model["version"] == seqkit.__version__
    assert model["config"] == lm.config.to_dict() and model["checkpoint"] == str(lm.checkpoint)
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "/v1/sample" in page.text and "http" not in page.text.split("<script>")[1]


def test_the_same_text_as_seqkit_sample(server, char_run):
    argmax = post(server, {"prime": "First", "length": 60, "temperature": 0}).json()
    assert argmax["text"] + "\n" == cli_sample(char_run, "--prime", "First", "--length", 60, "--temperature", 0)
    assert argmax["tokens"] == 60 and argmax["samples"] == [{"text": argmax["text"], "seed": argmax["seed"],
                                                              "tokens": 60}]
    body = {"prime": "We", "length": 50, "temperature": 0.8, "seed": 11, "count": 2, "top_k": 20}
    drawn = post(server, body).json()
    assert [s["seed"] for s in drawn["samples"]] == [11, 12]
    command = cli_sample(char_run, "--prime", "We", "--length", 50, "--temperature", 0.8, "--seed", 11, "--count", 2,
                         "--top-k", 20)
    assert "\n\n".join(s["text"] for s in drawn["samples"]) + "\n" == command
    lm = seqkit.load(char_run)
    assert [s["text"] for s in drawn["samples"]] == lm.sample(50, 0.8, 20, prime="We", count=2, seed=11)
    assert drawn["options"]["top_k"] == 20 and drawn["checkpoint"] == str(lm.checkpoint)


def test_streamed_events_join_to_the_same_text(server):
    body = {"prime": "First", "length": 2500, "temperature": 0.8, "seed": 4}
    whole = post(server, body).json()
    assert whole["tokens"] == 2500
    for streamed in (post(server, {**body, "stream": True}), post(server, body, headers={"Accept": "text/event-stream"})):
        assert streamed.headers["content-type"].startswith("text/event-stream")
        found = events(streamed.text)
        assert len(found) >= 4  # the prime, then a piece a block of 1,024 tokens drawn
        assert "".join(data for event, data in found if event == "message") == whole["text"]
        assert found[-1] == ("done", {"seed": 4, "tokens": whole["tokens"]})


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_streams_a_sample_in_chromium(server, char_run, tmp_path):
    """The page at /, opened with its controls in the URL's fragment, streams the sample in: the
    text it shows is the command's (argmax), and its script reports no error."""
    if CHROMIUM is None:
        reason = "chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=30000", "--dump-dom",
                           f"{server.url}/#prime=First&temperature=0&length=80"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '<body data-done="true">' in done.stdout
    shown = html.unescape(re.search(r'<div id="out">(.*?)</div>', done.stdout, re.S).group(1))
    assert shown + "\n" == cli_sample(char_run, "--prime", "First", "--length", 80, "--temperature", 0)
    assert "80 tokens" in done.stdout
    errors = [line for line in done.stderr.splitlines()
              if "Uncaught" in line or ("CONSOLE" in line and "error" in line.lower())]
    assert not errors, errors


def test_thirty_two_requests_side_by_side(server):
    def one(seed):
        return post(server, {"length": 30, "seed": seed, "temperature": 0.8})

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(one, range(32)))
    assert [a.status_code for a in answers] == [200] * 32
    assert [a.json()["seed"] for a in answers] == list(range(32))


BAD = [
    (b'{"length": 5', 400, None),
    (b"[1, 2]", 422, None),
    ({"lenght": 5}, 422, "lenght"),
    ({"length": "5"}, 422, "length"),
    ({"length": -1}, 422, "length"),
    ({"length": HUGE + 1}, 422, "length"),
    ({"count": 9}, 422, "count"),
    ({"count": 0}, 422, "count"),
    ({"temperature": -1}, 422, "temperature"),
    ({"top_p": 1.5}, 422, "top_p"),
    ({"stream": "yes"}, 422, "stream"),
    ({"ban": ["xyz"]}, 422, "ban"),
    ({"stop": [""]}, 422, "stop"),
    ({"beam": 2, "temperature": 0.5}, 422, "temperature"),
    ({"best_of": 2, "count": 3}, 422, "count"),
    ({"label": "poem"}, 422, "label"),
    ({"prime": "\u00e9\u00e9"}, 422, "prime"),
    ({"repetition_window": 10 ** 30, "repetition_penalty": 1.2}, 422, "repetition_window"),
    ({"no_repeat_ngram": 2 ** 63}, 422, "no_repeat_ngram"),
    ({"seed": 10 ** 30, "length": 3}, 200, None),
    ({"prime": "a" * (1 << 20)}, 413, None),
]


def test_every_bad_request_is_answered_and_the_server_goes_on(server):
    for body, status, field in BAD:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = httpx.post(server.url + "/v1/sample", content=content, timeout=30)
        assert answer.status_code == status, (body, answer.text)
        if status == 200:
            continue
        error = answer.json()
        assert error["field"] == field and error["error"] and "\n" not in error["error"], body
        assert "\ue000" not in error["error"]  # fields named as Python names them
    for path, body, field in [("/v1/score", {"texts": 3}, "texts"), ("/v1/score", {"top": 0, "texts": ["a"]}, "top"),
                              ("/v1/score", {}, "texts")]:
        answer = post(server, body, path)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    assert httpx.get(server.url + "/v1/nothing").status_code == 404
    assert post(server, {"length": 5, "seed": 1}).status_code == 200


def test_no_cross_origin_access_unless_asked(server):
    answer = post(server, {"length": 5}, headers={"Origin": "https://example.org"})
    assert answer.status_code == 200 and not [h for h in answer.headers if h.startswith("access-control")]


def test_score(server, char_run):
    texts = ["First Citizen:", "We are accounted poor citizens"]
    scored = post(server, {"texts": texts, "per_token": True, "top": 2}, "/v1/score").json()["scores"]
    expected = seqkit.load(char_run).score(texts, per_token=True, top=2)
    assert [s["text"] for s in scored] == texts
    assert [s["loss"] for s in scored] == pytest.approx([e["loss"] for e in expected])
    assert len(scored[0]["per_token"][0]["top"]) == 2


def test_a_client_leaving_mid_stream_stops_its_draw(server):
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", server.url + "/v1/sample", json={"length": HUGE, "stream": True}) as streamed:
            lines = streamed.iter_lines()
            assert next(lines).startswith("data: ")
            assert httpx.get(server.url + "/health").json()["in_flight"] == 1
    deadline = time.monotonic() + 10
    while httpx.get(server.url + "/health").json()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(server.url + "/health").json()["in_flight"] == 0  # HUGE tokens would take hours
    assert post(server, {"length": 20, "seed": 2}).status_code == 200


# --- the token and the queue ----------------------------------------------------------------------
def test_the_token_and_the_queue(char_run, tmp_path):
    served = Served(char_run, "--max-queue", 1, "--max-length", HUGE, "--cors", "https://example.org",
                    env={"SEQKIT_SERVE_TOKEN": "s3cret"})
    try:
        preflight = httpx.options(served.url + "/v1/sample", headers={
            "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://example.org"
        other = httpx.options(served.url + "/v1/sample", headers={"Origin": "https://evil.example",
                                                                  "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in other.headers
        refused = post(served, {"length": 5})
        assert refused.status_code == 401 and refused.json()["field"] == "authorization"
        assert post(served, {"length": 5}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(served.url + "/v1/model").status_code == 401
        assert httpx.get(served.url + "/health").status_code == 200
        auth = {"Authorization": "Bearer s3cret"}
        assert post(served, {"length": 5}, headers=auth).status_code == 200
        with httpx.Client(timeout=30, headers=auth) as client:
            with client.stream("POST", served.url + "/v1/sample", json={"length": HUGE, "stream": True}) as streamed:
                lines = streamed.iter_lines()  # kept: httpx closes the response when the iterator goes
                next(lines)
                busy = post(served, {"length": 5}, headers=auth)
                assert busy.status_code == 503 and "try again" in busy.json()["error"]
    finally:
        said = served.stop()
    assert "token required" in said.splitlines()[0] and "127.0.0.1" in said.splitlines()[0]


# --- what the command refuses ---------------------------------------------------------------------
def one_error_line(result, exit_code):
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_serve_without_the_extra_says_how_to_install_it(char_run, monkeypatch):
    for name in ("starlette", "uvicorn", "seqkit.generation.serving"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    line = one_error_line(invoke("serve", char_run), 1)
    assert 'pip install "seqkit[serve]"' in line


def test_a_host_beyond_this_machine_needs_a_token(char_run, monkeypatch):
    monkeypatch.delenv("SEQKIT_SERVE_TOKEN", raising=False)
    line = one_error_line(invoke("serve", char_run, "--host", "0.0.0.0"), 2)
    assert "--host 0.0.0.0" in line and "--token-file" in line
