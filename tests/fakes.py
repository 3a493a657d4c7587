"""Test doubles that sit behind the real interfaces (no patching)."""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from reviewer.backends.base import Completion

DEV_0001 = Path(__file__).resolve().parents[1] / "evals" / "corpora" / "dev" / "notes" / "dev-0001.txt"


# What a good reader answers for dev-0001, by question (prompts/extract.yaml).
# Checks of suggested lines answer yes unless the table says otherwise.
DEV_0001_ANSWERS = {
    "doc": "no",
    "group": "none",
    "passive": "none",
    "group_check": "no",
    "passive_check": "no",
    "kind": "functional",
}


class AnsweringBackend:
    """Answers each constrained question from a table keyed by question name (the key of
    prompts/extract.yaml), with a fixed confidence; unknown questions get the first choice."""

    name = "fake"
    model_id = "answering"

    def __init__(self, answers: dict[str, str], confidence: float = 0.95):
        from reviewer.prompts import load_prompt
        from reviewer.settings import PACKAGED_PROMPTS

        self.answers = answers
        self.confidence = confidence
        self.questions = load_prompt(PACKAGED_PROMPTS, "extract").questions
        self.asked: list[str] = []

    def question_of(self, messages) -> str:
        text = " ".join(messages[-1]["content"].rsplit("QUESTION: ", 1)[-1].split())
        for key, template in self.questions.items():
            pattern = ".*".join(re.escape(" ".join(part.split())) for part in re.split(r"\{\w+\}", template))
            if re.fullmatch(pattern, text, re.DOTALL):
                return key
        return "?"

    def complete(self, messages, schema):
        choices = schema["properties"]["answer"]["enum"]
        key = self.question_of(messages)
        self.asked.append(key)
        answer = str(self.answers.get(key, choices[0]))
        if answer not in choices:
            answer = choices[0]
        first = {
            c: (self.confidence if c == answer else (1 - self.confidence) / max(1, len(choices) - 1)) for c in choices
        }
        return Completion(
            text=json.dumps({"answer": answer}),
            prompt_tokens=100,
            cached_tokens=80,
            completion_tokens=2,
            prompt_s=0.5,
            output_s=0.1,
            confidence=self.confidence,
            first_token=first,
        )


def first_choice(schema: dict) -> str:
    """The answer a minimal model gives to any constrained question: its first choice."""
    return json.dumps({"answer": schema["properties"]["answer"]["enum"][0]})


def is_first_question(schema: dict) -> bool:
    """Each review first asks whether the document is something other than a daily note (no / yes)."""
    return (schema.get("properties") or {}).get("answer", {}).get("enum") == ["no", "yes"]


def request_schema(body: dict) -> dict:
    """The JSON schema an OpenAI-style request asks for (json_schema or json_object form)."""
    response_format = body.get("response_format") or {}
    return (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}


class ScriptedBackend:
    """Returns the given raw outputs in turn; records the messages it was sent."""

    name = "fake"
    model_id = "scripted"

    def __init__(self, *outputs: str):
        self.outputs = list(outputs)
        self.calls: list[list[dict]] = []

    def complete(self, messages, schema):
        self.calls.append(messages)
        return Completion(text=self.outputs.pop(0), prompt_tokens=100, completion_tokens=20)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many workers connect at once

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed client's socket is no news
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """A local HTTP server speaking the OpenAI chat-completions protocol.

    `content=None` answers each request with the first choice of its schema. `reject_json_schema=True` answers `response_format.type == "json_schema"` with HTTP 400, as
    llama-cpp-python's own server does.

    Load: each answer takes `delay` seconds; a share `error_rate` of requests (drawn from a seeded
    generator, so a run is repeatable) and the statuses listed in `errors`, one per request from
    the first, are answered with that HTTP error instead (429 by default) after the same delay.
    `in_flight`/`max_in_flight` count requests being answered at once, `notes` the notes whose
    review started (each asks the "is this a daily note" question first; counted when answered), `errors_sent` the errors.
    """

    def __init__(
        self,
        content: str | None = None,
        reject_json_schema: bool = False,
        *,
        delay: float = 0.0,
        error_rate: float = 0.0,
        error_status: int = 429,
        errors: list[int] | None = None,
        seed: int = 0,
    ):
        self.content = content
        self.reject_json_schema = reject_json_schema
        self.delay, self.error_rate, self.error_status = delay, error_rate, error_status
        self.scripted_errors = list(errors or [])
        self.requests: list[dict] = []
        self.notes = self.in_flight = self.max_in_flight = self.errors_sent = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers: clients reuse their connections
            disable_nagle_algorithm = True  # headers and body are written apart: don't hold the body back

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._lock:
                    outer.requests.append(body)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    status = outer._error_for_next()
                    outer.notes += status is None and is_first_question(request_schema(body))
                try:
                    time.sleep(outer.delay)
                    if status:
                        self._send(status, {"error": {"message": f"fake {status}", "type": "server_error"}})
                    else:
                        self._answer(body)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            def _answer(self, body):
                kind = (body.get("response_format") or {}).get("type")
                if outer.reject_json_schema and kind == "json_schema":
                    self._send(
                        400,
                        {
                            "error": {
                                "message": "response_format type json_schema not supported",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "m"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": outer.content
                                    if outer.content is not None
                                    else first_choice(request_schema(body)),
                                },
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366},
                    },
                )

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _error_for_next(self) -> int | None:
        if self.scripted_errors:
            status = self.scripted_errors.pop(0)
        elif self.error_rate and self._random.random() < self.error_rate:
            status = self.error_status
        else:
            return None
        self.errors_sent += 1
        return status

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
