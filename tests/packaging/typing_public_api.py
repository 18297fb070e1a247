"""Code a user and a plugin author write, type-checked (``hatch run types:check``), never run.

mypy checks it against the installed ``msgflux`` (through its ``py.typed``): if a public name
stops being exported, or a public signature loses or changes its types, this file stops
type-checking. ``assert_type`` pins what the public API promises.
"""

from __future__ import annotations

from typing import Any, assert_type

import msgflux as mf
from msgflux.models.clients import ChatClients
from msgflux.plugins import PluginInfo, list_plugins, registered_plugin
from msgflux.providers import CAPABILITIES, ProviderSpec


def user_code() -> None:
    model = mf.Model.chat_completion("fake/echo", temperature=0.2)
    assert_type(model, mf.ChatCompletionModel)
    answer = model("What is 15 * 7 + 3?", system_prompt="Be brief.")
    assert_type(answer, mf.ModelResponse)  # stream=False (the default): a whole answer
    assert_type(answer.reasoning, str | None)
    assert_type(answer.consume(), Any)
    stream = model("Count to three", stream=True)
    assert_type(stream, mf.ModelStreamResponse)  # an editor knows which object it holds
    for chunk in stream:
        assert_type(chunk, str)
    for piece in stream.iter_reasoning():
        assert_type(piece, str)
    either = model("hi", stream=bool(answer.data))
    assert_type(either, mf.ModelResponse | mf.ModelStreamResponse)
    assert_type(model.timeout, Any)
    assert_type(model.return_reasoning, bool)
    assert_type(model.supports, frozenset[str])
    assert_type(mf.list_providers(), list[str])
    infos = list_plugins()
    assert_type(infos, list[PluginInfo])
    assert_type(infos[0].to_dict(), dict[str, Any])
    try:
        mf.Model.chat_completion("openai/gpt-4.1-mini")
    except mf.PluginMissingError as exc:
        assert_type(str(exc), str)
    except mf.ProviderError as exc:
        assert_type(exc.status, int | None)


async def async_user_code(model: mf.ChatCompletionModel) -> None:
    answer = await model.acall("hi")
    assert_type(answer, mf.ModelResponse)
    stream = await model.acall("hi", stream=True)
    assert_type(stream, mf.ModelStreamResponse)


def gateway_user_code(model: mf.ChatCompletionModel) -> None:
    gateway = mf.ModelGateway([{"name": "a", "model": model}], strategy="least_busy")
    answer = gateway("hi", model_preference="a")
    assert_type(answer, mf.ModelResponse)
    stream = gateway("hi", stream=True)
    assert_type(stream, mf.ModelStreamResponse)
    assert_type(gateway.stats(), dict[str, Any])
    assert_type(gateway.supports, frozenset[str])
    try:
        gateway("hi")
    except mf.ModelRouterError as exc:
        for attempt in exc.attempts:
            assert_type(attempt.deployment, str)
            assert_type(attempt.error, BaseException)
    except mf.StreamInterruptedError as exc:
        assert_type(exc.chunks, int)


async def async_gateway_user_code(gateway: mf.ModelGateway) -> None:
    answer = await gateway.acall("hi")
    assert_type(answer, mf.ModelResponse)
    stream = await gateway.acall("hi", stream=True)
    assert_type(stream, mf.ModelStreamResponse)


# -- a plugin, as a third party writes it ------------------------------------------------------

ACME = ProviderSpec(
    name="acme",
    extends="openai",
    api_key_env=("ACME_API_KEY",),
    base_url_env="ACME_BASE_URL",
    default_base_url="https://api.acme.example/v1",
    options={"safety_mode": None},
    supports=CAPABILITIES - {"audio_output"},
)


@mf.hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ACME]


@mf.hookimpl
def initialize_client(
    model: mf.ChatCompletionModel, clients: ChatClients | None
) -> ChatClients | None:
    return None


@mf.hookimpl
def adapt_params(model: mf.ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    params.pop("enable_thinking", None)
    return params


@mf.hookimpl
def process_output(
    model: mf.ChatCompletionModel, output: Any, response: mf.ModelResponse | mf.ModelStreamResponse
) -> None:
    response.update_metadata(provider="acme")


def register_in_a_test() -> None:
    import sys

    with registered_plugin(sys.modules[__name__], "acme-test") as name:
        assert_type(name, str)
