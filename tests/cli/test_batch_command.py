"""``msgflux batch``: OpenAI Batch files in and out, against any provider, resumable."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from msgflux.testing.ratelimit import RateLimiter
from msgflux.testing.server import LoopbackServer, Reply

pytestmark = pytest.mark.requires_provider("openai")

KEY = "sk-batch-cli-9a8b7c6d5e"
GUARD = 120  # seconds: a guard against a hung child, not a performance bound


def request_line(custom_id: str, content: str | None = None, **body) -> str:
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("messages", [{"role": "user", "content": content or custom_id}])
    return json.dumps(
        {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    )


def write_requests(path: Path, count: int) -> list[str]:
    ids = [f"req-{i:04d}" for i in range(count)]
    path.write_text("".join(request_line(cid) + "\n" for cid in ids), encoding="utf-8")
    return ids


def read_output(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def batch_args(inp: Path, out: Path, server: LoopbackServer, *more: str) -> list[str]:
    return [
        "batch",
        str(inp),
        "-o",
        str(out),
        "-m",
        "openai/gpt-4o-mini",
        "--base-url",
        server.base_url,
        *more,
    ]


class Gate:
    """A loopback handler that answers the first ``open_for`` requests, then holds every
    later one until ``release()``: a run cannot finish before the test has stopped it."""

    def __init__(self, open_for: int, inner=None) -> None:
        self.open_for = open_for
        self.inner = inner
        self.seen = 0
        self.released = threading.Event()

    async def __call__(self, request):
        self.seen += 1
        reply = self.inner(request) if self.inner is not None else None
        if self.seen > self.open_for:
            while not self.released.is_set():
                await asyncio.sleep(0.01)
        return reply

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def env(cli_env):
    return cli_env(OPENAI_API_KEY=KEY)


def test_answers_every_request_in_the_openai_output_format(tmp_path, loopback_server, run_cli, env):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 5)

    result = run_cli(*batch_args(inp, out, loopback_server), env=env)

    assert result.returncode == 0, result.stderr
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ids
    first = next(line for line in lines if line["custom_id"] == "req-0000")
    assert first["error"] is None
    assert first["id"].startswith("batch_req_")
    assert first["response"]["status_code"] == 200
    body = first["response"]["body"]
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: req-0000"}
    assert body["usage"]["total_tokens"] > 0
    assert "5 of 5 requests answered" in result.stderr
    assert "failed 0" in result.stderr and "tokens" in result.stderr and "cost" in result.stderr
    assert KEY not in result.stderr


def test_the_body_becomes_msgflux_call_arguments(tmp_path, loopback_server, run_cli, env):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
    lines = [
        request_line("gen", temperature=0.2, max_completion_tokens=9, user="u-1", seed=3),
        request_line("tools", tools=[tool], tool_choice="required"),
        request_line("schema", response_format=schema),
    ]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loopback_server.set_handler(
        lambda request: (
            Reply.text('{"city": "Paris"}') if "response_format" in request.json else None
        )
    )

    result = run_cli(*batch_args(inp, out, loopback_server, "--max-concurrency", "1"), env=env)

    assert result.returncode == 0, result.stderr
    sent = {r.json["messages"][-1]["content"]: r.json for r in loopback_server.requests}
    assert sent["gen"]["temperature"] == 0.2
    assert sent["gen"]["max_completion_tokens"] == 9
    assert sent["gen"]["user"] == "u-1"  # not a msgflux option: sent as written
    assert sent["gen"]["seed"] == 3
    assert sent["tools"]["tools"][0]["function"]["name"] == "lookup"
    assert sent["tools"]["tool_choice"] == "required"
    assert sent["schema"]["response_format"]["json_schema"]["name"] == "answer"
    answers = {line["custom_id"]: line for line in read_output(out)}
    content = answers["schema"]["response"]["body"]["choices"][0]["message"]["content"]
    assert json.loads(content) == {"city": "Paris"}


def test_the_model_may_come_from_the_body(tmp_path, loopback_server, run_cli, env):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(request_line("a", model="openai/m-one") + "\n", encoding="utf-8")

    result = run_cli(
        "batch", str(inp), "-o", str(out), "--base-url", loopback_server.base_url, env=env
    )

    assert result.returncode == 0, result.stderr
    assert loopback_server.last_request.json["model"] == "m-one"
    assert read_output(out)[0]["response"]["body"]["model"] == "m-one"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([request_line("a"), request_line("a")], "custom_id 'a' is already used on line 1"),
        (['{"custom_id": "x", "url": "/v1/embeddings", "body": {}}'], "'url' must be"),
        (["not json"], "line 1: not valid JSON"),
        ([request_line("s", stream=True)], "body.stream"),
        (
            [json.dumps({"custom_id": "m", "url": "/v1/chat/completions", "body": {}})],
            "body.messages",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    tmp_path, loopback_server, run_cli, env, lines, message
):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli(*batch_args(inp, out, loopback_server), env=env)

    assert result.returncode == 2
    assert message in result.stderr
    assert loopback_server.requests == []


def test_a_body_model_without_a_provider_needs_m(tmp_path, loopback_server, run_cli, env):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(inp, 1)

    result = run_cli("batch", str(inp), "-o", str(out), env=env)

    assert result.returncode == 2
    assert "names no provider: pass -m PROVIDER/MODEL" in result.stderr


def test_a_missing_input_file_is_a_usage_error(tmp_path, run_cli, env):
    result = run_cli("batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o"), env=env)

    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_a_failed_request_is_its_line_and_retry_failed_sends_only_it_again(
    tmp_path, loopback_server, run_cli, env
):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 4)
    loopback_server.set_handler(
        lambda request: (
            Reply.error(400, "no such thing")
            if request.json["messages"][-1]["content"] == "req-0002"
            else None
        )
    )

    first = run_cli(*batch_args(inp, out, loopback_server), env=env)

    assert first.returncode == 1
    assert "failed 1" in first.stderr
    failed = next(line for line in read_output(out) if line["custom_id"] == "req-0002")
    assert failed["response"]["status_code"] == 400
    assert failed["response"]["body"]["error"]["message"] == "no such thing"

    loopback_server.set_handler(None)
    loopback_server.clear()
    again = run_cli(*batch_args(inp, out, loopback_server, "--retry-failed"), env=env)

    assert again.returncode == 0, again.stderr
    assert [r.json["messages"][-1]["content"] for r in loopback_server.requests] == ["req-0002"]
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ids
    assert all(line["response"]["status_code"] == 200 for line in lines)


def test_a_torn_last_line_is_dropped_and_its_request_sent_again(
    tmp_path, loopback_server, run_cli, env
):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 3)
    assert run_cli(*batch_args(inp, out, loopback_server), env=env).returncode == 0
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    torn = lines[-1][: len(lines[-1]) // 2]  # a crash in the middle of the last write
    out.write_text("".join(lines[:-1]) + torn, encoding="utf-8")
    torn_id = json.loads(lines[-1])["custom_id"]
    loopback_server.clear()

    result = run_cli(*batch_args(inp, out, loopback_server), env=env)

    assert result.returncode == 0, result.stderr
    assert [r.json["messages"][-1]["content"] for r in loopback_server.requests] == [torn_id]
    assert sorted(line["custom_id"] for line in read_output(out)) == ids


def test_two_runs_on_one_output_do_not_mix(tmp_path, loopback_server, run_cli, env):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(inp, 30)
    gate = Gate(open_for=1)
    loopback_server.set_handler(gate)
    cmd = [sys.executable, "-m", "msgflux.cli", *batch_args(inp, out, loopback_server)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_lines(out, 1, first)  # then the first run waits on the gate
        second = run_cli(*batch_args(inp, out, loopback_server), env=env)
    finally:
        first.kill()
        first.wait(GUARD)
        gate.release()

    assert second.returncode == 1
    assert "being written by another msgflux batch run" in second.stderr


def _wait_for_lines(path: Path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"the batch ended early: {process.stderr.read().decode()}")
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {count} lines")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_mid_run_then_rerun_answers_each_custom_id_exactly_once(tmp_path, env, how):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 120)
    limiter = RateLimiter(200, burst=5, latency=0.02)  # it counts what it admitted, per id
    gate = Gate(open_for=40, inner=limiter)  # the first run cannot finish before its kill
    with LoopbackServer(record=False) as server:
        server.set_handler(gate)
        cmd = [
            sys.executable,
            "-m",
            "msgflux.cli",
            *batch_args(inp, out, server),
            "--max-concurrency",
            "8",
        ]
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for_lines(out, 20, process)
        os.kill(process.pid, getattr(signal, how))
        _, stderr = process.communicate(timeout=GUARD)
        answered_first = {line["custom_id"] for line in read_output(out)}
        gate.release()

        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=GUARD)

    assert 20 <= len(answered_first) <= 40
    if how == "SIGINT":
        assert process.returncode == 130
        assert b"run the same command again" in stderr
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming: " in rerun.stderr
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ids  # each exactly once
    assert all(line["response"]["status_code"] == 200 for line in lines)
    for custom_id in answered_first:  # an answered request never reached the server again
        assert limiter.admitted_keys[custom_id] == 1, custom_id


def _stderr_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal; return (code, what it showed)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    # A terminal 100 columns wide (a new pseudo-terminal has none, and tqdm fits its width).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "msgflux.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], GUARD)
        if not ready:
            process.kill()
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the command closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(leader)
    return process.wait(timeout=GUARD), shown.decode(errors="replace")


def test_a_progress_bar_on_a_terminal_and_none_with_no_progress(tmp_path, loopback_server, env):
    inp = tmp_path / "in.jsonl"
    write_requests(inp, 12)

    code, shown = _stderr_on_terminal(batch_args(inp, tmp_path / "a.jsonl", loopback_server), env)
    assert code == 0, shown
    assert "12/12" in shown and "batch" in shown

    code, shown = _stderr_on_terminal(
        batch_args(inp, tmp_path / "b.jsonl", loopback_server, "--no-progress"), env
    )
    assert code == 0, shown
    assert "12/12" not in shown
    assert "12 of 12 requests answered" in shown
