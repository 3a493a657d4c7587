"""Test doubles that sit behind the real interfaces (no patching)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reviewer.backends.base import Completion
from reviewer.grounding import NumberedNote

DEV_0001 = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev" / "notes" / "dev-0001.txt"


def dev0001_output(**changes) -> dict:
    """What a good model answers for dev-0001 under the ModelOutput contract (line handles)."""
    handles = NumberedNote.from_text(DEV_0001.read_text(encoding="utf-8")).handles if DEV_0001.exists() else [""] * 20
    output = {
        "doc": "treatment_note",
        "disc": "PT",
        "goals": [handles[13], handles[14]],
        "measurable": True,
        "acts": [
            {"line": handles[8], "code": "97530", "min": 25, "kind": "functional", "task": "Car transfer practice"},
            {"line": handles[9], "code": "97110", "min": 15, "kind": "exercise", "task": None},
            {"line": handles[10], "code": None, "min": 10, "kind": "passive", "task": None},
        ],
        "passive": [handles[10]],
        "group": None,
        "skill": [handles[8], handles[12]],
        "resp": [handles[12]],
        "asst": None,
        "timed": 40,
        "total": 50,
        "bill": ["97530 GP x2", "97110 GP x1"],
    }
    output.update(changes)
    return output


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


class FakeOpenAIServer:
    """A local HTTP server speaking the OpenAI chat-completions protocol.

    `reject_json_schema=True` answers `response_format.type == "json_schema"` with HTTP 400, as
    llama-cpp-python's own server does.
    """

    def __init__(self, content: str, reject_json_schema: bool = False):
        self.content = content
        self.reject_json_schema = reject_json_schema
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                kind = (body.get("response_format") or {}).get("type")
                if outer.reject_json_schema and kind == "json_schema":
                    self._send(400, {"error": {"message": "response_format type json_schema not supported", "type": "invalid_request_error"}})
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "m"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": outer.content}, "finish_reason": "stop"}],
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
