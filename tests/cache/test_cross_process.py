"""Caches shared between processes: a second process answers from the first one's answers
without a request reaching the server (disk and Redis), and processes writing one SQLite file
at once all succeed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from msgflux.testing.server import Reply

CLIENT = textwrap.dedent(
    """
    import json, sys
    import msgspec
    import msgflux as mf

    class Event(msgspec.Struct):
        name: str

    base_url, cache, *prompts = sys.argv[1:]
    model = mf.Model.chat_completion(
        "openai/m", base_url=base_url, api_key="k", cache=cache, retry=False
    )
    answers = []
    for prompt in prompts:
        if prompt.startswith("event:"):
            answers.append(dict(model(prompt, generation_schema=Event).data))
        elif prompt.startswith("stream:"):
            answers.append(list(model(prompt, stream=True)))
        else:
            answers.append(model(prompt).data)
    print(json.dumps({"answers": answers, "info": model._response_cache.cache_info()}))
    """
)


def run_client(base_url: str, cache: str, *prompts: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, base_url, cache, *prompts],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start_client(base_url: str, cache: str, *prompts: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT, base_url, cache, *prompts],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(params=["disk", "redis"])
def shared_cache(request, tmp_path) -> str:
    pytest.importorskip("msgflux_openai")
    if request.param == "redis":
        return request.getfixturevalue("redis_server").url
    return f"disk:{tmp_path}/shared.sqlite3"


def handler(request):
    text = request.json["messages"][-1]["content"]
    if text.startswith("event:"):
        return Reply.text(json.dumps({"name": text.removeprefix("event:")}))
    return None  # the echo


def test_a_second_process_answers_from_the_first_ones_cache(
    shared_cache, loopback_server, requests_to
):
    loopback_server.set_handler(handler)
    prompts = ("hello", "event:party", "stream:count to three")
    first = run_client(loopback_server.base_url, shared_cache, *prompts)
    assert requests_to(loopback_server) == 3
    assert first["info"]["misses"] == 3
    second = run_client(loopback_server.base_url, shared_cache, *prompts)
    assert requests_to(loopback_server) == 3  # nothing reached the server
    assert (
        second["answers"]
        == first["answers"]
        == [
            "echo: hello",
            {"name": "party"},
            ["echo:", " stream:count", " to", " three"],
        ]
    )
    assert second["info"]["hits"] == 3 and second["info"]["misses"] == 0


def test_processes_writing_at_once(shared_cache, loopback_server, requests_to):
    prompts = [f"prompt {n}" for n in range(40)]
    clients = [
        start_client(loopback_server.base_url, shared_cache, *prompts[offset:] + prompts[:offset])
        for offset in (0, 10, 20, 30)
    ]
    outputs = []
    for client in clients:
        stdout, stderr = client.communicate(timeout=120)
        assert client.returncode == 0, stderr
        assert "msgflux.cache" not in stderr and "failed" not in stderr  # no cache failure
        outputs.append(json.loads(stdout))
    for output in outputs:
        assert sorted(output["answers"]) == sorted(f"echo: {p}" for p in prompts)
    # Each prompt was sent at least once; the cache spared at least the later askers.
    assert 40 <= requests_to(loopback_server) < 160
    total = sum(o["info"]["hits"] + o["info"]["misses"] for o in outputs)
    assert total == 160 and sum(o["info"]["misses"] for o in outputs) == requests_to(
        loopback_server
    )
