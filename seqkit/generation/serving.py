"""seqkit serve's ASGI application (Starlette): a loaded LanguageModel behind HTTP.

    GET  /           a page that streams samples (serve.html, self-contained)
    GET  /health     {"status": "ok", "in_flight": the requests being drawn or scored}
    GET  /v1/model   what the model is: cell, sizes, vocabulary, level, unit, config, version
    POST /v1/sample  a JSON body of LanguageModel.sample's options (the same names, defaults
                     and checks); {"text", "seed", "tokens"} of the first sample and "samples",
                     every one; with "stream": true (or Accept: text/event-stream) Server-Sent
                     Events: one `data:` event per piece drawn (a JSON string), then `event: done`
    POST /v1/score   {"texts": [...], "per_token": false, "top": 5}: {"scores": LanguageModel.score's}

The model is loaded once and only read: each request draws with its own Sampler, state and RNG,
in a thread of the pool (the compiled kernels release the GIL), so the event loop stays free and
requests run side by side. Every refusal is JSON, {"error": message, "field": the field or None}:
400 malformed JSON, 401 no token, 413 a body too large, 422 a field unknown or out of bounds, 503
more than `max_queue` requests in flight. This module imports starlette: seqkit never imports it
(seqkit.cli.serving does, for `seqkit serve`).
"""
import hmac
import inspect
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route

from seqkit._version import __version__
from seqkit.errors import SeqkitError, option, setting, spell
from seqkit.generation.controls import SamplingOptions
from seqkit.generation.sampler import new_seed

MAX_BODY = 1 << 20       # bytes of a request body
MAX_LENGTH = 100_000     # tokens a sample may ask for
MAX_COUNT = 64           # samples a request may ask for (count), and best_of's and beam's N
MAX_QUEUE = 64           # requests drawn or scored at once; past it, 503
MAX_WINDOW = 100_000     # repetition_window and no_repeat_ngram: the history a draw keeps is memory
OPEN = ("/", "/health")  # what a request may ask for without the token: the page holds no secret

# The JSON types each field of /v1/sample takes (None: null allowed); bool is never an int here.
INT, NUMBER, TEXT, FLAG, TEXTS = "an integer", "a number", "a string", "true or false", "a string or a list of strings"
TYPES = {"prime": (TEXT, False), "length": (INT, False), "temperature": (NUMBER, False), "top_k": (INT, True),
         "top_p": (NUMBER, True), "seed": (INT, True), "count": (INT, False), "stop_at_end": (FLAG, False),
         "allow_unk": (FLAG, False), "stop": (TEXTS, False), "strip_stop": (FLAG, False), "ban": (TEXTS, False),
         "repetition_penalty": (NUMBER, False), "repetition_window": (INT, False), "no_repeat_ngram": (INT, True),
         "beam": (INT, True), "best_of": (INT, True), "label": (TEXT, True), "stream": (FLAG, False)}
SCORE_TYPES = {"texts": (TEXTS, False), "per_token": (FLAG, False), "top": (INT, False)}


class Refused(Exception):
    """A request answered with `status` and {"error": message, "field": field}."""

    def __init__(self, status, message, field=None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class Limits:
    max_body: int = MAX_BODY
    max_length: int = MAX_LENGTH
    max_count: int = MAX_COUNT
    max_queue: int = MAX_QUEUE
    max_window: int = MAX_WINDOW


def _is(kind, value):
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == TEXT:
        return isinstance(value, str)
    if kind == FLAG:
        return isinstance(value, bool)
    return isinstance(value, str) or isinstance(value, list) and all(isinstance(v, str) for v in value)


def fields_of(body, types, defaults):
    """The fields of a JSON body, checked for their names and JSON types, the defaults filled in."""
    if not isinstance(body, dict):
        raise Refused(422, "the body must be a JSON object of options")
    for name, value in body.items():
        if name not in types:
            raise Refused(422, f"unknown field {name!r}: the fields are {', '.join(types)}", name)
        kind, nullable = types[name]
        if not (value is None and nullable) and not _is(kind, value):
            raise Refused(422, f"{option(name)} must be {kind}{' or null' if nullable else ''}, got {json.dumps(value)}",
                          name)
    return {**defaults, **body}


def sample_defaults(lm):
    """LanguageModel.sample's defaults, and SamplingOptions' for its controls: the same as the API's."""
    found = {name: p.default for name, p in inspect.signature(lm.sample).parameters.items()
             if p.default is not inspect.Parameter.empty}
    controls = {name: f.default for name, f in SamplingOptions.__dataclass_fields__.items() if name not in found}
    return {**found, **controls, "stream": False}


def error_response(status, message, field=None, headers=None):
    """{"error": the message, its fields named as Python names them, "field": field}."""
    return JSONResponse({"error": spell(str(message)), "field": field}, status, headers=headers)


class Server:
    """The application's state: the model, its limits, the requests in flight, the token."""

    def __init__(self, lm, limits=Limits(), token=None):
        self.lm, self.limits, self.token, self.in_flight = lm, limits, token, 0
        self.defaults = sample_defaults(lm)

    # --- what every request goes through ------------------------------------------------------------
    async def body(self, request):
        """The request's JSON body, refused past max_body bytes (413) or malformed (400)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body:
            raise Refused(413, f"the body is {int(declared):,} bytes, more than the {self.limits.max_body:,} allowed: "
                               f"send less")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > self.limits.max_body:
                raise Refused(413, f"the body is more than the {self.limits.max_body:,} bytes allowed: send less")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise Refused(400, f"the body is not JSON ({error}): send a JSON object") from None

    def admit(self):
        """Count a request in flight, or refuse it (503) when max_queue are."""
        if self.in_flight >= self.limits.max_queue:
            raise Refused(503, f"{self.in_flight} requests are being served, the most allowed: try again shortly")
        self.in_flight += 1

    def release(self):
        self.in_flight -= 1

    # --- the routes ---------------------------------------------------------------------------------
    async def page(self, request):
        return HTMLResponse(resources.files("seqkit.generation").joinpath("serve.html").read_text(encoding="utf-8"))

    async def health(self, request):
        return JSONResponse({"status": "ok", "in_flight": self.in_flight})

    async def model(self, request):
        lm, config = self.lm, self.lm.config
        return JSONResponse({"cell": config.cell, "layers": config.layers, "hidden": config.hidden,
                             "embed": config.embed, "vocab_size": len(lm.vocab), "level": config.text.level,
                             "unit": config.text.resolved_unit, "labels": sorted(lm.vocab.labels),
                             "config": config.to_dict(), "version": __version__, "checkpoint": str(lm.checkpoint)})

    async def sample(self, request):
        fields = fields_of(await self.body(request), TYPES, self.defaults)
        streamed = fields.pop("stream") or "text/event-stream" in request.headers.get("accept", "")
        options, fields = self.checked(fields)
        self.admit()
        try:
            if streamed:
                return Events(self.events(request, options, fields), self.release)
            chosen = options.beam is not None or options.best_of is not None
            samples = await (run_in_threadpool(self.choices, fields) if chosen else self.drawn(request, fields))
        except BaseException:
            self.release()
            raise
        self.release()
        if samples is None:  # the client went away
            return error_response(499, "the client closed the connection")
        return JSONResponse({**samples[0], "samples": samples, "prime": fields["prime"], "length": fields["length"],
                             "options": options.record(), "checkpoint": str(self.lm.checkpoint)})

    def checked(self, fields):
        """(SamplingOptions, the fields with a seed) after the model's checks and the server's bounds (422)."""
        limits = self.limits
        for name, most in (("length", limits.max_length), ("count", limits.max_count), ("best_of", limits.max_count),
                           ("beam", limits.max_count), ("repetition_window", limits.max_window),
                           ("no_repeat_ngram", limits.max_window)):
            if isinstance(fields[name], int) and fields[name] > most:
                raise Refused(422, f"{setting(name, fields[name])} is more than this server's {most:,}: ask for less",
                              name)
        for name in ("length", "seed"):
            if isinstance(fields[name], int) and fields[name] < 0:
                raise Refused(422, f"{option(name)} must be an integer of at least 0, got {fields[name]}", name)
        if fields["count"] < 1:
            raise Refused(422, f"{option('count')} must be a positive integer, got {fields['count']}", "count")
        controls = {name: fields[name] for name in SamplingOptions.__dataclass_fields__}
        try:
            options = self.lm.options(prime=fields["prime"], **controls)
            options.check_count(fields["count"])
        except SeqkitError as error:
            raise Refused(422, error, error.field) from None
        except ValueError as error:  # the one plain ValueError of lm.options: a prime the vocabulary cannot read
            raise Refused(422, error, "prime") from None
        return options, {**fields, "seed": new_seed() if fields["seed"] is None else fields["seed"]}

    def arguments(self, fields, seed):
        return {name: fields[name] for name in fields if name not in ("count", "seed")} | {"seed": seed}

    def choices(self, fields):
        """beam's or best_of's samples, best first (in a thread)."""
        chosen = self.lm.choices(count=fields["count"], **self.arguments(fields, fields["seed"]))
        return [{"text": c.text, "seed": c.seed, "tokens": c.tokens, "loss": c.loss}
                | ({} if c.logprob is None else {"logprob": c.logprob}) for c in chosen]

    async def stream(self, fields, seed):
        """lm.stream's pieces of one sample, made in a thread: building its sampler packs the weights."""
        return await run_in_threadpool(lambda: self.lm.stream(**self.arguments(fields, seed)))

    async def drawn(self, request, fields):
        """Each sample drawn a piece at a time in a thread, stopping if the client goes (None)."""
        samples = []
        for k in range(fields["count"]):
            seed = fields["seed"] + k
            pieces = await self.stream(fields, seed)
            text, tokens = [], None
            while True:
                step = await run_in_threadpool(_next, pieces)
                if isinstance(step, Ended):
                    tokens = step.value
                    break
                text.append(step)
                if await request.is_disconnected():
                    pieces.close()
                    return None
            samples.append({"text": "".join(text), "seed": seed, "tokens": tokens})
        return samples

    async def events(self, request, options, fields):
        """The samples as Server-Sent Events: a `data:` event a piece (a JSON string), `event:
        sample` with each sample's seed and tokens but the last's, then `event: done` with them
        (or, should the draw fail, `event: error` with {"error", "field"}).
        StreamingResponse listens for the client's disconnect itself (reading the request's
        messages here as well would take them from it)."""
        try:
            if options.beam is not None or options.best_of is not None:  # chosen together: each comes whole
                chosen = await run_in_threadpool(self.choices, fields)
                for c in chosen:
                    yield f"data: {json.dumps(c['text'], ensure_ascii=False)}\n\n"
                    yield f"event: {'done' if c is chosen[-1] else 'sample'}\ndata: {json.dumps(c)}\n\n"
                return
            for k in range(fields["count"]):
                seed = fields["seed"] + k
                pieces = await self.stream(fields, seed)
                try:
                    while True:
                        step = await run_in_threadpool(_next, pieces)
                        if isinstance(step, Ended):
                            break
                        if step:  # a client gone ends this generator here: the response's task is cancelled
                            yield f"data: {json.dumps(step, ensure_ascii=False)}\n\n"
                finally:
                    pieces.close()
                end = json.dumps({"seed": seed, "tokens": step.value})
                yield f"event: {'done' if k == fields['count'] - 1 else 'sample'}\ndata: {end}\n\n"
        except Exception as error:  # the status is sent: an error comes as the last event
            field = error.field if isinstance(error, SeqkitError) else None
            said = json.dumps({"error": spell(f"the server could not go on ({type(error).__name__}: {error})"),
                               "field": field})
            yield f"event: error\ndata: {said}\n\n"

    async def score(self, request):
        fields = fields_of(await self.body(request), SCORE_TYPES, {"texts": None, "per_token": False, "top": 5})
        if fields["texts"] is None:
            raise Refused(422, f"{option('texts')} is missing: give the texts to score, a list of strings", "texts")
        self.admit()
        try:
            records = await run_in_threadpool(self.lm.score, fields["texts"], fields["per_token"], fields["top"])
        except SeqkitError as error:
            raise Refused(422, error, error.field) from None
        except ValueError as error:
            raise Refused(422, error, "texts") from None
        finally:
            self.release()
        return JSONResponse({"scores": records})


class Ended:
    """What _next returns when a generator ends: its value (the tokens drawn)."""

    def __init__(self, value):
        self.value = value


def _next(pieces):
    """The next piece of a generator, or Ended(its value): StopIteration cannot cross a thread's await."""
    try:
        return next(pieces)
    except StopIteration as stop:
        return Ended(stop.value)


class Events(StreamingResponse):
    """A stream of Server-Sent Events whose request is released however it ends (done, failed,
    or the client gone), and whose generator is closed then, so that it draws no more."""

    def __init__(self, events, release):
        super().__init__(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.events, self.on_end = events, release

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except OSError:
            pass  # the client went away mid-stream
        finally:
            await self.events.aclose()
            self.on_end()


class Token:
    """ASGI middleware: every request but OPEN's must carry `Authorization: Bearer TOKEN` (401)."""

    def __init__(self, app, token):
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] not in OPEN:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = error_response(401, "this server needs a token: send the header Authorization: Bearer "
                                               "TOKEN", "authorization", {"WWW-Authenticate": "Bearer"})
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


async def refused(request, error):
    return error_response(error.status, error.message, error.field)


async def http_error(request, error):
    return error_response(error.status_code, error.detail)


async def internal(request, error):
    return error_response(500, f"the server could not answer ({type(error).__name__}: {error})")


def application(lm: Any, limits: Limits = Limits(), token: str | None = None, cors: tuple[str, ...] = ()) -> Starlette:
    """The ASGI application serving `lm` (a seqkit LanguageModel); with `token`, every request but
    / and /health needs it; cors: the origins allowed to call it from a browser (none by default)."""
    server = Server(lm, limits, token)
    routes = [Route("/", server.page), Route("/health", server.health), Route("/v1/model", server.model),
              Route("/v1/sample", server.sample, methods=["POST"]), Route("/v1/score", server.score, methods=["POST"])]
    middleware = [Middleware(CORSMiddleware, allow_origins=list(cors), allow_methods=["GET", "POST"],
                             allow_headers=["Authorization", "Content-Type"])] if cors else []
    if token:
        middleware.append(Middleware(Token, token=token))
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={Refused: refused, HTTPException: http_error, Exception: internal})
    app.state.server = server
    return app
