"""Which server the provider talks to, and the tool choice llama-server receives.

llama-server takes ``tool_choice`` only as a string: an object is dropped with a "Wrong type
supplied" warning in its log, and the request is answered as with ``"auto"``. The witnesses
here are the server's own: its log, and (``LLAMA_SERVER_SLOTS_DEBUG=1``) ``GET /slots``, which
shows the grammar it built for the last request. With ``"required"`` that grammar is in force
from the first token (``grammar_lazy`` false) and the answer cannot end without a call; with
``"auto"`` it waits for the model to open a ``<tool_call>`` (lazy).

SmolLM2-135M never opens one by itself (it writes prose until ``max_tokens``), so a forced
call is asserted at the grammar the server enforces, not at a call the model makes.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from msgflux.tools import ToolDefinitions

WRONG_TYPE = "Wrong type supplied for parameter 'tool_choice'"
RELEASED = "stop processing"  # llama-server's log line for a finished request
PROMPT = "What is the weather in Paris?"


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name.
    """
    return f"sunny in {city}"


def get_time() -> str:
    """Get the current time."""
    return "noon"


def request_log(server: Any, call: Callable[[], Any], timeout: float = 60.0) -> str:
    """What the server logged for the one request ``call()`` sends.

    llama-server writes its log from a thread of its own, in order: once the line for the
    end of this request is there, every line about it (a warning while parsing it) is too.
    The wait is bounded, never a measurement.
    """
    before = server.log_text()
    finished = before.count(RELEASED)
    call()
    deadline = time.monotonic() + timeout
    while (text := server.log_text()).count(RELEASED) <= finished:
        assert time.monotonic() < deadline, f"no end of request logged:\n{server.log_tail()}"
        time.sleep(0.05)
    return text[len(before) :]


def last_request_params(server: Any) -> dict[str, Any]:
    """The sampling settings of the slot's last request (the server has one slot)."""
    with urllib.request.urlopen(f"http://{server.host}:{server.port}/slots", timeout=10) as r:
        [slot] = json.load(r)
    return slot["params"]


# -- which server -----------------------------------------------------------------------------


def server_detector(base_url: str) -> Any:
    """The plugin's probe. Imported here, not at the top: in the matrix environments without
    the plugin the ``real_server`` fixture skips these tests before this runs."""
    from msgflux_llamacpp.server import ServerDetector

    return ServerDetector(base_url, None)


def test_the_probe_tells_the_servers_apart(real_server):
    detector = server_detector(real_server.base_url)
    assert detector.detect() == real_server.kind
    assert detector.kind == real_server.kind  # remembered: the next request does not ask


async def test_the_async_probe_tells_the_servers_apart(real_server):
    detector = server_detector(real_server.base_url)
    assert await detector.adetect() == real_server.kind


# -- every tool choice reaches llama-server in a form it accepts --------------------------------


@pytest.mark.parametrize("choice", ["auto", "none", "required", "get_weather"])
def test_each_tool_choice_is_accepted_as_sent(llama_server, make_model, choice):
    # SmolLM2's own template: llama-server ignores the tools (the template has none) and
    # answers with text, whatever the choice; the request itself must parse cleanly.
    tools = ToolDefinitions.from_callables([get_weather, get_time], choice=choice)
    with make_model(llama_server, max_tokens=4) as model:
        log = request_log(llama_server, lambda: model(PROMPT, tool_definitions=tools).consume())
    assert WRONG_TYPE not in log


def test_the_object_form_is_what_llama_server_rejects(llama_server, make_model):
    # The witness works: llama-cpp-python's form, sent to llama-server, is logged as wrong.
    tools = ToolDefinitions.from_callables([get_weather], choice="required")
    with make_model(llama_server, max_tokens=4, server="llama-cpp-python") as model:
        log = request_log(llama_server, lambda: model(PROMPT, tool_definitions=tools).consume())
    assert WRONG_TYPE in log


# -- and means what it says (a template with tools) -------------------------------------------


@pytest.fixture
def tool_grammar(llama_server_with_tools, make_model) -> Callable[..., tuple[dict, str]]:
    """Send a choice over both tools; get the grammar settings and the log it caused."""
    return lambda choice, **options: _tool_grammar(
        llama_server_with_tools, make_model, choice, **options
    )


def _tool_grammar(running: Any, make_model: Any, choice: str, **options: Any) -> tuple[dict, str]:
    tools = ToolDefinitions.from_callables([get_weather, get_time], choice=choice)
    with make_model(running, max_tokens=4, **options) as model:
        log = request_log(running, lambda: model(PROMPT, tool_definitions=tools).consume())
    return last_request_params(running), log


def test_required_is_enforced_from_the_first_token(tool_grammar):
    params, log = tool_grammar("required")
    assert WRONG_TYPE not in log
    assert params["grammar_lazy"] is False
    assert "tool-get-weather ::=" in params["grammar"]
    assert "tool-get-time ::=" in params["grammar"]


def test_a_named_tool_is_enforced_and_is_the_only_one(tool_grammar):
    params, log = tool_grammar("get_weather")
    assert WRONG_TYPE not in log
    assert params["grammar_lazy"] is False
    assert "tool-get-weather ::=" in params["grammar"]
    assert "tool-get-time ::=" not in params["grammar"]


def test_auto_leaves_the_call_to_the_model(tool_grammar):
    params, log = tool_grammar("auto")
    assert WRONG_TYPE not in log
    assert params["grammar_lazy"] is True
    assert [trigger["value"].strip() for trigger in params["grammar_triggers"]] == ["<tool_call>"]


def test_none_builds_no_tool_grammar(tool_grammar):
    params, log = tool_grammar("none")
    assert WRONG_TYPE not in log
    assert not params["grammar"]


def test_a_named_tool_sent_as_an_object_would_not_be_enforced(tool_grammar):
    # What the plugin sent before it knew the server: dropped, and answered as "auto".
    params, log = tool_grammar("get_weather", server="llama-cpp-python")
    assert WRONG_TYPE in log
    assert params["grammar_lazy"] is True
