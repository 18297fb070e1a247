"""msgflux in one screen: a chat answer, a streamed answer, structured output and a tool call.

    python examples/demo.py            # a real model on this machine, no key needed
    python examples/demo.py --local    # the local model even when an API key is set

Without an API key the demo sets up (once) and starts a llama.cpp server with
SmolLM2-135M-Instruct (see ``scripts/llamacpp.py``), and stops it at the end. The model is
tiny: expect well-formed answers rather than wise ones. With one of these keys set, the same
script runs against that provider instead (first match wins, if its plugin is installed):

    OPENAI_API_KEY      openai/gpt-4.1-mini
    GROQ_API_KEY        groq/openai/gpt-oss-20b
    OPENROUTER_API_KEY  openrouter/openai/gpt-4.1-mini

``--model provider/model-id`` picks another model.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

import msgflux as mf
from msgflux.tools import ToolDefinitions

HOSTED = (
    ("OPENAI_API_KEY", "openai/gpt-4.1-mini"),
    ("GROQ_API_KEY", "groq/openai/gpt-oss-20b"),
    ("OPENROUTER_API_KEY", "openrouter/openai/gpt-4.1-mini"),
)
LOCAL_MODEL = "llamacpp/smollm2"


class City(msgspec.Struct):
    """A city, as structured output."""

    name: str
    country: str
    population: int


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name, e.g. "Paris".
    """
    return f"sunny and 21 °C in {city}"


def _llamacpp_script() -> Any:
    """``scripts/llamacpp.py`` as a module (it is a script, not an installed package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "llamacpp.py"
    spec = importlib.util.spec_from_file_location("_msgflux_llamacpp_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def _hosted_model() -> str | None:
    providers = set(mf.list_providers())
    for env_var, model in HOSTED:
        if os.environ.get(env_var):
            if model.split("/", 1)[0] in providers:
                return model
            print(f"({env_var} is set but its plugin is not installed; skipping it)")
    return None


@contextlib.contextmanager
def _local_server() -> Iterator[str]:
    llamacpp = _llamacpp_script()
    started = time.perf_counter()
    installation = llamacpp.setup()  # installs only what is missing
    print(f"llama.cpp server and model ready ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    with llamacpp.start_server(installation) as server:
        print(f"server started at {server.base_url} ({time.perf_counter() - started:.1f} s)")
        yield server.base_url
    print("server stopped")


def _section(title: str) -> float:
    print(f"\n== {title}")
    return time.perf_counter()


def _took(started: float) -> None:
    print(f"   ({time.perf_counter() - started:.1f} s)")


def run(model: mf.ChatCompletionModel) -> None:
    """The demo proper: the same calls whatever the provider."""
    started = _section("chat")
    print(model("In one sentence, what is a lighthouse?").consume())
    _took(started)

    started = _section("stream")
    response = model("Write two short sentences about the sea.", stream=True)
    for chunk in response:
        print(chunk, end="", flush=True)
    print()
    _took(started)

    started = _section("structured output")
    data = model("Describe Paris as JSON.", generation_schema=City).consume()
    print(repr(msgspec.convert(data, City)))
    _took(started)

    started = _section("tool call")
    tools = ToolDefinitions.from_callables([get_weather], choice="get_weather")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris?"}]
    calls = model(messages, tool_definitions=tools).consume()
    for call in calls.get_calls():
        function = call["function"]
        result = tools.tools[function["name"]].call(function["arguments"])
        print(f"{function['name']}({function['arguments']}) -> {result!r}")
        calls.insert_results(call["id"], result)
    messages += calls.get_messages()
    answer = model(messages, tool_definitions=ToolDefinitions.from_callables([get_weather]))
    print(f"final answer: {answer.consume()}")
    _took(started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--local", action="store_true", help="use the local llama.cpp server")
    parser.add_argument("--model", help="provider/model-id to use instead")
    args = parser.parse_args(argv)

    name = args.model or (None if args.local else _hosted_model())
    if name is not None and not name.startswith("llamacpp/"):
        print(f"model: {name}")
        with mf.Model.chat_completion(name) as model:
            run(model)
        return 0
    with _local_server() as base_url:
        # A tiny model on two cores: short answers keep the demo quick.
        with mf.Model.chat_completion(
            name or LOCAL_MODEL, base_url=base_url, max_tokens=64, temperature=0
        ) as model:
            print(f"model: {model.provider}/{model.model_id}")
            run(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
