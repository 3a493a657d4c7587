"""Backends behind `complete(messages, schema)`: OpenAI-compatible over real HTTP, replay, recording."""

import json
import threading

import pytest
from fakes import FakeOpenAIServer

from reviewer.backends import ModelError, get_backend
from reviewer.backends.base import Completion, choice_schema, counting_retries
from reviewer.backends.openai_compat import OpenAIBackend
from reviewer.backends.replay import RecordingBackend, ReplayBackend
from reviewer.settings import Settings

SCHEMA = choice_schema(["note", "other"])
MESSAGES = [
    {"role": "system", "content": "s"},
    {"role": "user", "content": "NOTE:\n[1] hello\n\nQUESTION: note or other?"},
]
ANSWER = json.dumps({"answer": "other"})


def test_openai_backend_sends_json_schema_and_reads_usage():
    with FakeOpenAIServer(ANSWER) as server:
        backend = OpenAIBackend(Settings(openai_base_url=server.url, openai_model="local-model"))
        completion = backend.complete(MESSAGES, SCHEMA)
    assert completion.text == ANSWER
    assert (completion.prompt_tokens, completion.completion_tokens) == (321, 45)
    request = server.requests[0]
    assert request["model"] == "local-model" and request["temperature"] == 0
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"] == ["note", "other"]


def test_openai_backend_falls_back_to_json_object_schema_for_llama_cpp_python_server():
    with FakeOpenAIServer(ANSWER, reject_json_schema=True) as server:
        backend = OpenAIBackend(Settings(openai_base_url=server.url))
        assert backend.complete(MESSAGES, SCHEMA).text == ANSWER
        backend.complete(MESSAGES, SCHEMA)
    kinds = [r["response_format"]["type"] for r in server.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]  # the fallback is remembered
    assert "properties" in server.requests[1]["response_format"]["schema"]


def test_openai_backend_reports_an_unreachable_endpoint_as_model_error():
    backend = OpenAIBackend(Settings(openai_base_url="http://127.0.0.1:9/v1", model_timeout_s=2))
    with pytest.raises(ModelError):
        backend.complete(MESSAGES, SCHEMA)


def test_openai_backend_needs_an_endpoint():
    with pytest.raises(ModelError, match="REVIEWER_OPENAI_BASE_URL"):
        get_backend(Settings(backend="openai"))


class Constant:
    name, model_id = "const", "m-1"

    def complete(self, messages, schema):
        return Completion(text=ANSWER, prompt_tokens=5, completion_tokens=3)


def test_recording_then_replay_returns_the_same_completion(tmp_path):
    recorded = RecordingBackend(Constant(), tmp_path).complete(MESSAGES, SCHEMA)
    replayed = ReplayBackend(tmp_path, "m-1").complete(MESSAGES, SCHEMA)
    assert replayed == recorded


def test_replay_misses_are_clear_errors(tmp_path):
    RecordingBackend(Constant(), tmp_path).complete(MESSAGES, SCHEMA)
    with pytest.raises(ModelError, match="no recording"):
        ReplayBackend(tmp_path, "another-model").complete(MESSAGES, SCHEMA)
    with pytest.raises(ModelError, match="no recording"):
        ReplayBackend(tmp_path, "m-1").complete(MESSAGES + [{"role": "user", "content": "x"}], SCHEMA)


def test_embedded_backend_without_weights_says_what_to_do(tmp_path):
    backend = get_backend(Settings(backend="embedded", model_path=tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="not a file"):
        backend.complete(MESSAGES, SCHEMA)


FAST_RETRY = {"openai_retry_initial_s": 0.01, "openai_retry_max_s": 0.05}


def test_openai_backend_retries_429_and_5xx_with_backoff_and_counts_them():
    with FakeOpenAIServer(ANSWER, errors=[429, 503, 500]) as server:
        backend = OpenAIBackend(Settings(openai_base_url=server.url, **FAST_RETRY))
        with counting_retries() as retries:
            assert backend.complete(MESSAGES, SCHEMA).text == ANSWER
    assert (retries.value, backend.retries, len(server.requests)) == (3, 3, 4)


def test_openai_backend_gives_up_after_its_attempts_with_a_model_error():
    with FakeOpenAIServer(ANSWER, error_rate=1.0, error_status=429) as server:
        backend = OpenAIBackend(Settings(openai_base_url=server.url, openai_max_attempts=3, **FAST_RETRY))
        with pytest.raises(ModelError, match="RateLimitError"):
            backend.complete(MESSAGES, SCHEMA)
    assert len(server.requests) == 3 and backend.retries == 2


def test_openai_backend_does_not_retry_a_client_error():
    with FakeOpenAIServer(ANSWER, errors=[404]) as server:
        backend = OpenAIBackend(Settings(openai_base_url=server.url, **FAST_RETRY))
        with pytest.raises(ModelError, match="NotFoundError"):
            backend.complete(MESSAGES, SCHEMA)
    assert len(server.requests) == 1 and backend.retries == 0


@pytest.mark.parametrize(("limit", "expected"), [(2, 2), (None, 6)])
def test_openai_backends_share_the_endpoints_concurrency_limit(limit, expected):
    with FakeOpenAIServer(ANSWER, delay=1.0) as server:  # long enough that all six overlap on a loaded machine
        settings = Settings(openai_base_url=server.url, openai_max_concurrency=limit)
        backends = [OpenAIBackend(settings) for _ in range(2)]  # two backends of one process, one endpoint
        threads = [threading.Thread(target=backends[n % 2].complete, args=(MESSAGES, SCHEMA)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert server.max_in_flight == expected and len(server.requests) == 6
