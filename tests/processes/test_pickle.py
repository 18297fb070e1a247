"""Models pickle: the configuration travels, the API key and live clients never do."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest
import tenacity

import msgflux as mf
from msgflux.errors import MissingAPIKeyError
from msgflux.plugins import get_provider, provider_chain
from msgflux.testing.server import LoopbackServer

pytestmark = pytest.mark.requires_provider("openai")

SECRET = "sk-pickle-secret-5e1d2c3b4a"
WORKER_KEY = "sk-worker-env-key-0f9e8d7c"


def _providers() -> list[str]:
    return [name for name in mf.list_providers() if name != "envkeyed"]


@pytest.fixture
def provider_server(provider, loopback_server):
    """The loopback server speaking ``provider``'s wire format (Messages API or OpenAI's)."""
    if "anthropic" not in [spec.name for spec in provider_chain(provider)]:
        yield loopback_server
        return
    from msgflux.testing.anthropic_server import MessagesServer

    with MessagesServer() as server:
        yield server


def _sent_key(request) -> str | None:
    bearer = request.headers.get("authorization", "")
    return bearer.removeprefix("Bearer ") if bearer else request.headers.get("x-api-key")


def _build(provider: str, server: LoopbackServer, **options):
    if provider != "fake":
        options.setdefault("base_url", server.base_url)
    return mf.Model.chat_completion(f"{provider}/m", api_key=SECRET, **options)


def _clear_keys(monkeypatch: pytest.MonkeyPatch, provider: str) -> None:
    for env_var in get_provider(provider).api_key_env:
        monkeypatch.delenv(env_var, raising=False)


@pytest.mark.parametrize("provider", _providers())
def test_every_providers_model_pickles_without_its_key(provider, provider_server, monkeypatch):
    model = _build(provider, provider_server, temperature=0.25, max_tokens=7)
    assert model("before").consume()

    data = pickle.dumps(model)

    assert SECRET.encode() not in data
    _clear_keys(monkeypatch, provider)
    spec = get_provider(provider)
    if spec.api_key_env:
        monkeypatch.setenv(spec.api_key_env[0], WORKER_KEY)
    rebuilt = pickle.loads(data)
    assert type(rebuilt) is type(model)
    assert (rebuilt.provider, rebuilt.model_id) == (provider, "m")
    assert rebuilt.defaults == model.defaults
    assert rebuilt.base_url == model.base_url
    answer = rebuilt("after").consume()
    assert "after" in answer
    if provider != "fake":
        sent = provider_server.last_request
        assert sent.json["temperature"] == 0.25
        if spec.api_key_env:
            assert _sent_key(sent) == WORKER_KEY


@pytest.mark.parametrize(
    "provider", [name for name in _providers() if get_provider(name).api_key_required]
)
def test_without_a_key_in_the_worker_the_first_call_names_the_env_var(
    provider, provider_server, monkeypatch
):
    model = _build(provider, provider_server)
    data = pickle.dumps(model)
    _clear_keys(monkeypatch, provider)

    rebuilt = pickle.loads(data)  # unpickling needs no key
    with pytest.raises(MissingAPIKeyError) as caught:
        rebuilt("hi")

    message = str(caught.value)
    assert get_provider(provider).api_key_env[0] in message
    assert "not carried by pickles" in message
    assert SECRET not in message
    assert provider_server.requests == [] or provider == "fake"


def test_a_normally_built_model_keeps_its_missing_key_message(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError) as caught:
        mf.Model.chat_completion("openai/m")
    assert "pickle" not in str(caught.value)


def test_the_key_is_read_once_the_worker_has_it(loopback_server, monkeypatch):
    rebuilt = pickle.loads(pickle.dumps(_build("openai", loopback_server)))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError):
        rebuilt("first")

    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)

    assert rebuilt("second").consume() == "echo: second"
    assert loopback_server.last_request.headers["authorization"] == f"Bearer {WORKER_KEY}"


@pytest.mark.parametrize("transport", ["fast", "sdk"])
def test_a_rebuilt_model_streams_and_answers_async(transport, loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)
    model = _build("openai", loopback_server, transport=transport)
    rebuilt = pickle.loads(pickle.dumps(model))

    chunks = list(rebuilt("one two three", stream=True))

    assert "".join(chunks) == "echo: one two three"

    async def ask():
        return (await rebuilt.acall("async")).consume()

    import asyncio

    assert asyncio.run(ask()) == "echo: async"
    rebuilt.close()
    model.close()


def test_the_response_cache_travels_empty(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)
    model = _build("openai", loopback_server, enable_cache=True, cache_size=5)
    model("cached")
    rebuilt = pickle.loads(pickle.dumps(model))

    rebuilt("cached")
    rebuilt("cached")

    assert len(loopback_server.requests) == 2  # one each: the copy started with no entries
    assert rebuilt._response_cache.cache_info()["hits"] == 1


def test_provider_options_and_settings_travel(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)
    model = _build(
        "openai",
        loopback_server,
        transport="sdk",
        think_tags=True,
        extra_body={"user": "u1"},
        extra_headers={"X-Team": "blue"},
        timeout=12.5,
        retry={"max_attempts": 2},
        return_reasoning=False,
    )
    rebuilt = pickle.loads(pickle.dumps(model))

    assert rebuilt.options["transport"] == "sdk"
    assert rebuilt.options["think_tags"] is True
    assert (rebuilt.timeout, rebuilt.retry, rebuilt.return_reasoning) == (
        12.5,
        {"max_attempts": 2},
        False,
    )
    rebuilt("hi")
    sent = loopback_server.last_request
    assert sent.json["user"] == "u1"
    assert sent.headers["x-team"] == "blue"


def test_a_tenacity_policy_travels(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)
    policy = tenacity.Retrying(stop=tenacity.stop_after_attempt(4), reraise=True)
    rebuilt = pickle.loads(pickle.dumps(_build("openai", loopback_server, retry=policy)))

    assert isinstance(rebuilt.retry, tenacity.Retrying)
    assert rebuilt.retry.stop.max_attempt_number == 4


# -- what cannot travel is refused when pickling -----------------------------------------------


def test_an_injected_client_is_refused_with_what_to_do(loopback_server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=loopback_server.base_url, api_key=SECRET, max_retries=0)
    model = mf.Model.chat_completion("openai/m", client=client, api_key=SECRET)

    with pytest.raises(TypeError, match=r"client= is a live object.*Build the model in the worker"):
        pickle.dumps(model)
    client.close()


def test_credential_headers_are_refused(loopback_server):
    model = _build("openai", loopback_server, extra_headers={"X-Api-Key": SECRET})

    with pytest.raises(TypeError) as caught:
        pickle.dumps(model)

    assert "X-Api-Key" in str(caught.value)
    assert "not carried by pickles" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_policy_that_does_not_pickle_is_refused(loopback_server):
    local_hook = lambda state: None  # noqa: E731 - a local function does not pickle
    policy = tenacity.Retrying(before_sleep=local_hook)
    model = _build("openai", loopback_server, retry=policy)

    with pytest.raises(TypeError, match=r"retry= does not pickle.*settings dict"):
        pickle.dumps(model)


def test_a_module_level_log_hook_pickles(loopback_server):
    policy = tenacity.Retrying(before_sleep=tenacity.before_sleep_nothing)
    model = _build("openai", loopback_server, retry=policy)

    assert isinstance(pickle.loads(pickle.dumps(model)).retry, tenacity.Retrying)
    logging.getLogger(__name__).debug("pickled")


# -- copies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_a_copy_keeps_the_key_in_process_and_has_its_own_connections(
    copier, loopback_server, monkeypatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = _build("openai", loopback_server, extra_body={"tags": ["a"]})
    model("original")
    original_peer = loopback_server.last_request.client_address

    clone = copier(model)
    clone.extra_body["tags"].append("b")
    clone("copy")
    sent = loopback_server.last_request

    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.client_address != original_peer  # the copy never shares a pooled socket
    assert model.extra_body == {"tags": ["a"]}  # options are the copy's own
    model("original again")
    assert loopback_server.last_request.client_address == original_peer
    model.close()
    clone.close()


def test_a_copy_shares_an_injected_client(loopback_server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=loopback_server.base_url, api_key=SECRET, max_retries=0)
    model = mf.Model.chat_completion("openai/m", client=client, api_key=SECRET)

    clone = copy.deepcopy(model)

    assert clone.options["client"] is client
    assert clone("shared").consume() == "echo: shared"
    client.close()


# -- @register_model classes -------------------------------------------------------------------


@pytest.fixture
def custom_provider(workers, loopback_server, monkeypatch):
    """tests/processes/custom_provider.py imported (its provider registered), then removed."""
    import importlib
    import sys

    from msgflux.plugins import unregister_plugin

    monkeypatch.setenv("ENVKEYED_BASE_URL", loopback_server.base_url)
    module = importlib.import_module("custom_provider")
    yield module
    unregister_plugin("register_model:envkeyed")
    sys.modules.pop("custom_provider", None)


def test_a_register_model_class_pickles_by_reference(custom_provider, loopback_server, monkeypatch):
    model = mf.Model.chat_completion("envkeyed/m", api_key=SECRET)
    data = pickle.dumps(model)
    assert SECRET.encode() not in data

    monkeypatch.setenv("ENVKEYED_API_KEY", WORKER_KEY)
    rebuilt = pickle.loads(data)

    assert type(rebuilt) is custom_provider.EnvKeyedChatCompletion
    assert rebuilt("custom").consume() == "echo: custom"
    assert loopback_server.last_request.headers["authorization"] == f"Bearer {WORKER_KEY}"


def test_a_register_model_class_answers_in_a_spawned_worker(
    custom_provider, loopback_server, monkeypatch, workers
):
    import multiprocessing

    monkeypatch.setenv("ENVKEYED_API_KEY", WORKER_KEY)
    model = mf.Model.chat_completion("envkeyed/m", api_key=SECRET)

    # The worker imports custom_provider to unpickle the class, which registers the provider.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        answer, _ = pool.apply_async(workers.ask, (model, "in a worker")).get(120)

    assert answer == "echo: in a worker"
    assert loopback_server.last_request.headers["authorization"] == f"Bearer {WORKER_KEY}"


def test_any_option_that_does_not_pickle_is_named(loopback_server):
    import threading

    model = _build("openai", loopback_server)
    model.timeout = threading.Lock()  # stands for a live object in a model option

    with pytest.raises(TypeError, match=r"its timeout= does not pickle"):
        pickle.dumps(model)
