"""An OpenAI-compatible endpoint that misbehaves on purpose, for the fault suite.

Each request is answered by a policy: `policy(note, question)` names the fault for the `question`-th
request (0 = the first) about the note of patient `note` (the number in "Pt: Patient N"), one of
FAULTS. It runs in a thread of the test (`FaultyServer`) or as a process of its own that can be
killed, or kill itself mid-request (`python tests/faulty.py PORT_FILE --die-at N`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fakes import first_choice, is_first_question, request_schema

# ok: the first choice; invalid: an answer that is not JSON; absurd: a valid choice that makes no sense
# (the last one); 429 / 500: HTTP errors (the 500 quotes the request, as some servers do); garbage: a
# 200 whose body is not JSON; close: the connection closed without an answer; slow: an answer after
# SLOW_S seconds; die: the server process killed (SIGKILL) in the middle of the request.
FAULTS = ("ok", "invalid", "absurd", "429", "500", "garbage", "close", "slow", "die")
SLOW_S = 3.0
_PATIENT_RE = re.compile(r"Pt: Patient (\d+)\b")

Policy = Callable[[int | None, int], str]


def healthy(note: int | None, question: int) -> str:
    return "ok"


class FaultyServer:
    """The endpoint in a thread of the test; `faults` counts the faults it injected."""

    def __init__(self, policy: Policy = healthy, delay: float = 0.0):
        self.policy, self.delay = policy, delay
        self.reviews: Counter[int | None] = Counter()  # reviews started per patient number (first questions)
        self.questions: Counter[int | None] = Counter()  # requests per patient number
        self.faults: Counter[str] = Counter()
        self.on_note: Callable[[int | None], None] | None = None  # called at a note's first request
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fault_for(self, body: dict) -> tuple[int | None, str]:
        note = _patient(body)
        with self._lock:
            question = self.questions[note]
            self.questions[note] += 1
            self.reviews[note] += is_first_question(request_schema(body))  # an HTTP retry counts again
        if question == 0 and self.on_note is not None:
            self.on_note(note)
        fault = self.policy(note, question)
        if fault != "ok":
            with self._lock:
                self.faults[fault] += 1
        return note, fault

    def __enter__(self) -> FaultyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _patient(body: dict) -> int | None:
    for message in body.get("messages", []):
        found = _PATIENT_RE.search(str(message.get("content", "")))
        if found:
            return int(found[1])
    return None


def _handler(owner: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers: a closed connection is a real fault

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            _note, fault = owner.fault_for(body)
            schema = request_schema(body)
            time.sleep(owner.delay)
            if fault == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            if fault == "close":
                self.close_connection = True
                return
            if fault == "slow":
                time.sleep(SLOW_S)
            if fault in ("429", "500"):
                quoted = str(body["messages"][-1].get("content", ""))[:300]  # the note, as the request has it
                error = {"error": {"message": f"server trouble while reading: {quoted}", "type": "server_error"}}
                self._send(int(fault), json.dumps(error).encode(), {"retry-after-ms": "10"})
                return
            if fault == "garbage":
                self._send(200, b"<html>\x00\xff upstream proxy error", {})
                return
            choices = schema["properties"]["answer"]["enum"]
            content = {"invalid": '{"answer": ', "absurd": json.dumps({"answer": choices[-1]})}.get(
                fault, first_choice(schema)
            )
            message = {"role": "assistant", "content": content}
            payload = {
                "id": "c", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 300, "completion_tokens": 5, "total_tokens": 305},
            }  # fmt: skip
            self._send(200, json.dumps(payload).encode(), {})

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str]) -> None:
    """`faulty.py PORT_FILE [--die-at N]`: serve until killed; with --die-at, kill itself (SIGKILL)
    in the middle of the first request about patient N."""
    port_file = Path(argv[0])
    die_at = int(argv[argv.index("--die-at") + 1]) if "--die-at" in argv else None
    server = FaultyServer(lambda note, question: "die" if note == die_at else "ok")
    port_file.write_text(str(server.server.server_address[1]))
    server.server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
