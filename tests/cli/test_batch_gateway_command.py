"""``msgflux batch --gateway GATEWAY.json``: a batch file through a serialized gateway, with
the keys from the environment, resumable as with ``-m``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import msgflux as mf
from msgflux.testing.ratelimit import RateLimiter
from msgflux.testing.server import LoopbackServer, Reply

from .test_batch_command import GUARD, Gate, _wait_for_lines, read_output, write_requests

pytestmark = pytest.mark.requires_provider("openai")

KEY = "sk-batch-gateway-cli-0f1e2d3c"  # the children's environment
BUILD_KEY = "sk-built-in-process-4b5a6978"  # the key of the gateway that was serialized


@pytest.fixture
def replicas():
    with LoopbackServer() as a, LoopbackServer() as b:
        yield a, b


def write_gateway(path: Path, a: LoopbackServer, b: LoopbackServer, **settings) -> Path:
    """Serialize a gateway over ``a`` (model ``openai/m-a``) and ``b`` (``openai/m-b``)."""
    settings.setdefault("strategy", "least_busy")
    gateway = mf.ModelGateway(
        [
            {
                "name": name,
                "group": "chat",
                "model": mf.Model.chat_completion(
                    f"openai/m-{name}", base_url=server.base_url, api_key=BUILD_KEY
                ),
            }
            for name, server in (("a", a), ("b", b))
        ],
        **settings,
    )
    path.write_text(json.dumps(gateway.serialize()), encoding="utf-8")
    gateway.close()
    assert BUILD_KEY not in path.read_text(encoding="utf-8")
    return path


@pytest.fixture
def env(cli_env):
    return cli_env(OPENAI_API_KEY=KEY)


def gateway_args(inp: Path, out: Path, gateway: Path, *more: str) -> list[str]:
    return ["batch", str(inp), "-o", str(out), "--gateway", str(gateway), *more]


def contents(server: LoopbackServer) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in server.requests]


def test_every_request_is_answered_by_a_deployment(tmp_path, replicas, run_cli, env):
    a, b = replicas
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 12)
    gateway = write_gateway(tmp_path / "gateway.json", a, b)

    result = run_cli(*gateway_args(inp, out, gateway, "--max-concurrency", "4"), env=env)

    assert result.returncode == 0, result.stderr
    lines = {line["custom_id"]: line for line in read_output(out)}
    assert sorted(lines) == ids
    by_server = {content: "m-a" for content in contents(a)}
    by_server.update({content: "m-b" for content in contents(b)})
    assert sorted(by_server) == ids  # each request reached one server, once
    for custom_id, line in lines.items():
        body = line["response"]["body"]
        assert body["model"] == by_server[custom_id]  # the answering deployment's model
        assert body["choices"][0]["message"]["content"] == f"echo: {custom_id}"
    keys = {r.headers["authorization"] for r in [*a.requests, *b.requests]}
    assert keys == {f"Bearer {KEY}"}  # from the environment, never from the file
    assert "12 of 12 requests answered" in result.stderr
    assert f"answers per deployment: a {len(contents(a))}, b {len(contents(b))}" in result.stderr


def test_a_failing_deployment_is_failed_over(tmp_path, replicas, run_cli, env):
    a, b = replicas
    a.set_handler(lambda request: Reply.error(503, "down"))
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 6)
    gateway = write_gateway(tmp_path / "gateway.json", a, b, strategy="ordered")

    result = run_cli(*gateway_args(inp, out, gateway), env=env)

    assert result.returncode == 0, result.stderr
    lines = read_output(out)
    assert sorted(line["custom_id"] for line in lines) == ids
    assert {line["response"]["body"]["model"] for line in lines} == {"m-b"}
    assert "answers per deployment: b 6" in result.stderr


@pytest.mark.parametrize(
    "extra",
    [
        ["-m", "openai/m"],
        ["--base-url", "http://127.0.0.1:9/v1"],
        ["--api-key", "sk-nope"],
        ["--option", "temperature=0"],
    ],
)
def test_gateway_excludes_the_model_flags(tmp_path, replicas, run_cli, env, extra):
    a, b = replicas
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(inp, 2)
    gateway = write_gateway(tmp_path / "gateway.json", a, b)

    result = run_cli(*gateway_args(inp, out, gateway, *extra), env=env)

    assert result.returncode == 2
    assert f"--gateway cannot be combined with {extra[0]}" in result.stderr
    assert a.requests == [] and b.requests == []


def test_a_bad_gateway_file_is_a_usage_error(tmp_path, run_cli, env):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(inp, 1)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    model = tmp_path / "model.json"
    model.write_text(json.dumps(mf.Model.chat_completion("fake/echo").serialize()), "utf-8")

    missing = run_cli(*gateway_args(inp, out, tmp_path / "nope.json"), env=env)
    invalid = run_cli(*gateway_args(inp, out, broken), env=env)
    not_a_gateway = run_cli(*gateway_args(inp, out, model), env=env)

    assert missing.returncode == invalid.returncode == not_a_gateway.returncode == 2
    assert "cannot read" in missing.stderr and "nope.json" in missing.stderr
    assert "broken.json: not valid JSON" in invalid.stderr
    assert "expected the dict returned by ModelGateway.serialize()" in not_a_gateway.stderr


def test_a_missing_key_names_the_deployment_and_the_env_var(tmp_path, replicas, run_cli, env):
    a, b = replicas
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(inp, 1)
    gateway = write_gateway(tmp_path / "gateway.json", a, b)
    del env["OPENAI_API_KEY"]

    result = run_cli(*gateway_args(inp, out, gateway), env=env)

    assert result.returncode == 1
    assert "deployment 'a'" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert a.requests == [] and b.requests == []


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_mid_run_then_rerun_answers_each_custom_id_exactly_once(tmp_path, env, how):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_requests(inp, 120)
    limiters = [RateLimiter(200, burst=5, latency=0.02) for _ in range(2)]  # counts, per id
    gates = [Gate(open_for=20, inner=limiter) for limiter in limiters]  # no run ends unkilled
    with LoopbackServer(record=False) as a, LoopbackServer(record=False) as b:
        for server, gate in zip((a, b), gates, strict=True):
            server.set_handler(gate)
        gateway = write_gateway(tmp_path / "gateway.json", a, b)
        cmd = [
            sys.executable,
            "-m",
            "msgflux.cli",
            *gateway_args(inp, out, gateway, "--max-concurrency", "8"),
        ]
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for_lines(out, 20, process)
        os.kill(process.pid, getattr(signal, how))
        _, stderr = process.communicate(timeout=GUARD)
        answered_first = {line["custom_id"] for line in read_output(out)}
        for gate in gates:
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
    assert {line["response"]["body"]["model"] for line in lines} <= {"m-a", "m-b"}
    for custom_id in answered_first:  # an answered request never reached a server again
        assert sum(limiter.admitted_keys[custom_id] for limiter in limiters) == 1, custom_id
