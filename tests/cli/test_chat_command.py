"""``msgflux chat``: prompt in, answer out, reasoning apart, errors as a shell user expects."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys

import pytest

from msgflux.testing.server import LoopbackServer, Reply

REASONED = '-o responses=[{"content": "108", "reasoning": "15 * 7 = 105; + 3"}]'


def reasoned_option() -> list[str]:
    return REASONED.split(" ", 1)


# -- prompt and answer ---------------------------------------------------------------------------


def test_streams_the_answer_to_stdout_with_a_final_newline(run_cli):
    result = run_cli("chat", "-m", "fake/echo", "hello there, model")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello there, model\n"
    assert result.stderr == ""


@pytest.mark.parametrize("args", [(), ("-",)])
def test_reads_the_prompt_from_stdin_when_omitted_or_dash(run_cli, args):
    result = run_cli("chat", "-m", "fake/echo", *args, input="piped\nprompt")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "piped\nprompt\n"


def test_empty_stdin_is_a_usage_error(run_cli):
    result = run_cli("chat", "-m", "fake/echo", input="  \n")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "msgflux: error: the prompt read from stdin is empty\n"


def test_no_stream_gives_the_same_answer(run_cli):
    result = run_cli("chat", "-m", "fake/echo", "--no-stream", "whole answer")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "whole answer\n"


def test_a_tool_call_answer_is_printed_as_json(run_cli):
    calls = '[{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}]'

    result = run_cli("chat", "-m", "fake/echo", "-o", f"responses={calls}", "weather?")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
        }
    ]


# -- reasoning -----------------------------------------------------------------------------------


def test_reasoning_goes_to_stderr_when_stdout_is_not_a_terminal(run_cli):
    result = run_cli("chat", "-m", "fake/echo", *reasoned_option(), "What is 15 * 7 + 3?")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "108\n"
    assert result.stderr == "15 * 7 = 105; + 3\n"


def test_no_reasoning_hides_it(run_cli):
    result = run_cli("chat", "-m", "fake/echo", "--no-reasoning", *reasoned_option(), "q")

    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("108\n", "")


def _run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal; return (code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "msgflux.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        output += data
    os.close(leader)
    return process.wait(timeout=60), output.decode().replace("\r\n", "\n")


def test_reasoning_is_dimmed_on_a_terminal_before_the_answer(cli_env):
    code, output = _run_on_terminal(["chat", "-m", "fake/echo", *reasoned_option(), "q"], cli_env())

    assert code == 0, output
    # chunked by the fake provider (4 characters), each piece dimmed, then a blank line
    dimmed = "".join(f"\x1b[2m{piece}\x1b[22m" for piece in ["15 *", " 7 =", " 105", "; + ", "3"])
    assert output == f"{dimmed}\n\n108\n"


def test_no_color_on_a_terminal_keeps_reasoning_plain(cli_env):
    code, output = _run_on_terminal(
        ["chat", "-m", "fake/echo", *reasoned_option(), "q"], cli_env(NO_COLOR="1")
    )

    assert code == 0, output
    assert "\x1b[" not in output
    assert output.splitlines() == ["15 * 7 = 105; + 3", "108"]


# -- options ---------------------------------------------------------------------------------------


def test_option_values_are_json_when_they_parse_and_strings_otherwise(run_cli):
    result = run_cli("chat", "-m", "fake/echo", "-o", "chunk_size=1", "-o", "temperature=0", "ok")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("temprature=0.5", "unexpected keyword argument 'temprature'. Did you mean 'temperature'?"),
        ("temperature=3", "`temperature` must be a number between 0 and 2, got 3"),
        ("no-equals-sign", "-o expects KEY=VALUE"),
    ],
)
def test_bad_options_are_usage_errors_on_one_line(run_cli, option, message):
    result = run_cli("chat", "-m", "fake/echo", "-o", option, "hi")

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("msgflux: error: ")
    assert message in line


def test_argparse_usage_errors_exit_2(run_cli):
    result = run_cli("chat", "hi")  # no -m

    assert result.returncode == 2
    assert "the following arguments are required: -m/--model" in result.stderr


def test_version(run_cli):
    import msgflux

    result = run_cli("--version")

    assert result.returncode == 0
    assert result.stdout == f"msgflux {msgflux.__version__}\n"


# -- providers -------------------------------------------------------------------------------------


def test_unknown_provider_exits_1_listing_installed_ones(run_cli):
    result = run_cli("chat", "-m", "nosuchprovider/model", "hi")

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("msgflux: error: unknown provider 'nosuchprovider'")
    assert "fake" in line


def test_known_provider_without_its_plugin_says_what_to_install(run_cli, cli_env):
    result = run_cli(
        "chat", "-m", "openai/gpt-4.1-mini", "hi", env=cli_env(MSGFLUX_DISABLE_PLUGIN_AUTOLOAD="1")
    )

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "pip install 'msgflux[openai]'" in line


def test_a_provider_without_streaming_answers_whole(run_cli, install_plugin):
    source = """
        import msgflux
        from msgflux.providers import ProviderSpec

        @msgflux.hookimpl
        def register_providers():
            return [ProviderSpec(
                name="batch", extends="fake", supports=frozenset(), api_key_required=False
            )]
    """
    env = install_plugin(distribution="msgflux-batch", module="msgflux_batch", source=source)

    result = run_cli("chat", "-m", "batch/any", "no stream needed", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "no stream needed\n"


# -- against the loopback server through the OpenAI-compatible plugin --------------------------


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv
        assert srv.errors == []


@pytest.mark.requires_provider("openai")
def test_sends_system_prompt_base_url_and_api_key(run_cli, server):
    server.enqueue(
        Reply.text("The answer is 108.", reasoning="15*7=105", reasoning_field="reasoning")
    )

    result = run_cli(
        "chat",
        "-m",
        "openai/loop-model",
        "--base-url",
        server.base_url,
        "--api-key",
        "sk-cli",
        "-s",
        "Be brief.",
        "What is 15 * 7 + 3?",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "The answer is 108.\n"
    assert result.stderr == "15*7=105\n"
    request = server.last_request
    assert request.headers["authorization"] == "Bearer sk-cli"
    assert request.json["model"] == "loop-model"
    assert request.json["stream"] is True
    assert request.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 15 * 7 + 3?"},
    ]


@pytest.mark.requires_provider("openai")
def test_api_key_and_base_url_come_from_the_providers_env_vars(run_cli, cli_env, server):
    env = cli_env(OPENAI_API_KEY="sk-env", OPENAI_BASE_URL=server.base_url)

    result = run_cli("chat", "-m", "openai/loop-model", "--no-stream", "hi", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: hi\n"  # the loopback server's default answer
    assert server.last_request.headers["authorization"] == "Bearer sk-env"
    assert "stream" not in server.last_request.json


@pytest.mark.requires_provider("openai")
def test_missing_api_key_names_the_env_var_and_the_flag(run_cli, server):
    result = run_cli("chat", "-m", "openai/loop-model", "--base-url", server.base_url, "hi")

    assert result.returncode == 1
    assert result.stderr == (
        "msgflux: error: the 'openai' provider needs an API key: set OPENAI_API_KEY, "
        "or pass --api-key\n"
    )
    assert server.requests == []


@pytest.mark.requires_provider("openai")
def test_http_error_exits_1_with_one_line_and_traceback_only_with_debug(run_cli, server):
    args = ["chat", "-m", "openai/m", "--base-url", server.base_url, "--api-key", "bad", "hi"]
    server.enqueue(Reply.error(401, "Invalid API key"), Reply.error(401, "Invalid API key"))

    plain = run_cli(*args)
    debug = run_cli("--debug", *args)

    assert plain.returncode == debug.returncode == 1
    (line,) = plain.stderr.splitlines()
    assert line.startswith("msgflux: error: openai request failed: HTTP 401: Invalid API key")
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    last = debug.stderr.splitlines()[-1]
    assert last.startswith("msgflux: error: openai request failed: HTTP 401: Invalid API key")


@pytest.mark.requires_provider("openai")
def test_ctrl_c_while_streaming_exits_130(cli_env, server):
    server.enqueue(
        Reply.text("first second third", chunks=["first", " second", " third"], stall_after=2)
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "msgflux.cli",
            "chat",
            "-m",
            "openai/m",
            "--base-url",
            server.base_url,
            "--api-key",
            "k",
            "hi",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        assert process.stdout.read(len("first")) == b"first"  # the stream is open and stalled
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        process.kill()
        process.communicate()

    assert code == 130


# -- structured output --------------------------------------------------------------------------

PERSON_SCHEMA = {
    "title": "Person",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
}


@pytest.fixture
def schema_file(tmp_path):
    path = tmp_path / "person.json"
    path.write_text(json.dumps(PERSON_SCHEMA))
    return path


def test_json_schema_prints_the_structured_answer_as_json(run_cli, schema_file):
    result = run_cli("chat", "-m", "fake/echo", "--json-schema", str(schema_file), "Ada, 36")

    assert result.returncode == 0, result.stderr
    # the fake provider answers with the simplest value fitting the (strict) wire schema
    assert json.loads(result.stdout) == {"name": "", "age": 0, "email": ""}


@pytest.mark.requires_provider("openai")
def test_json_schema_goes_on_the_wire_as_strict_response_format(run_cli, server, schema_file):
    server.enqueue(Reply.text('{"name": "Ada", "age": 36, "email": null}'))

    result = run_cli(
        "chat",
        "-m",
        "openai/m",
        "--base-url",
        server.base_url,
        "--api-key",
        "k",
        "--json-schema",
        str(schema_file),
        "Ada, 36",
    )

    assert result.returncode == 0, result.stderr
    # the null the model wrote for the optional field is dropped again
    assert json.loads(result.stdout) == {"name": "Ada", "age": 36}
    sent = server.last_request.json
    assert "stream" not in sent  # structured output is decoded whole
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Person",
            "strict": True,
            "schema": {
                "title": "Person",
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer"},
                    "email": {"type": ["string", "null"], "format": "email"},
                },
                "required": ["name", "age", "email"],
                "additionalProperties": False,
            },
        },
    }


@pytest.mark.requires_provider("openai")
def test_json_schema_answer_that_is_not_json_exits_1(run_cli, server, schema_file):
    server.enqueue(Reply.text("Sorry, I cannot do that."))

    result = run_cli(
        "chat",
        "-m",
        "openai/m",
        "--base-url",
        server.base_url,
        "--api-key",
        "k",
        "--json-schema",
        str(schema_file),
        "Ada",
    )

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("msgflux: error: The model's answer for Person is not valid JSON")


def test_json_schema_accepts_openais_named_wrapper(run_cli, tmp_path):
    path = tmp_path / "wrapped.json"
    path.write_text(
        json.dumps(
            {
                "name": "city",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
            }
        )
    )

    result = run_cli("chat", "-m", "fake/echo", "--json-schema", str(path), "where?")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"city": "Paris"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "a JSON Schema must be an object"),
        ('{"type": "array", "items": {"type": "string"}}', "the answer must be a JSON object"),
    ],
)
def test_bad_json_schema_files_are_usage_errors(run_cli, tmp_path, content, message):
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)

    result = run_cli("chat", "-m", "fake/echo", "--json-schema", str(path), "hi")

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"msgflux: error: --json-schema {path}: ")
    assert message in line


def test_a_reader_that_goes_away_ends_the_command_quietly(cli_env):
    # More output than a pipe buffer holds, so the command is still writing when the reader
    # (think `| head -c 10`) closes its end.
    process = subprocess.Popen(
        [sys.executable, "-m", "msgflux.cli", "chat", "-m", "fake/echo", "-o", "chunk_size=4096"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    process.stdin.write(b"word " * 40_000)
    process.stdin.close()
    assert process.stdout.read(10) == b"word word "
    process.stdout.close()
    code = process.wait(timeout=60)
    stderr = process.stderr.read()
    process.stderr.close()

    assert code == 141
    assert stderr == b""
