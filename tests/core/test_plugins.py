"""The plugin system: scoped dispatch, ordering, conflicts, errors (programmatic plugins)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import msgflux as mf
from msgflux import ProviderSpec, hookimpl
from msgflux.plugins import list_plugins, registered_plugin


class Recorder:
    """A plugin extending the fake provider that records what its hooks saw."""

    def __init__(self, name: str = "derived", extends: str = "fake", **spec) -> None:
        self.spec = ProviderSpec(name=name, extends=extends, api_key_required=False, **spec)
        self.seen: list[tuple[str, object]] = []

    @hookimpl
    def register_providers(self):
        return [self.spec]

    @hookimpl
    def adapt_params(self, model, params):
        self.seen.append(("adapt_params", model.provider))
        params["temperature"] = 0.25  # derived providers see and change the base's request
        return params

    @hookimpl
    def process_output(self, output, response):
        self.seen.append(("process_output", response.data))


def test_derived_provider_runs_after_its_base_and_only_for_its_models():
    recorder = Recorder()
    with registered_plugin(recorder, "recorder"):
        derived = mf.Model.chat_completion("derived/m")
        response = derived("hello")
        assert response.consume() == "hello"
        assert derived.client.requests[-1]["temperature"] == 0.25
        # process_output ran after fake's: it saw the text fake had already added
        assert recorder.seen == [("adapt_params", "derived"), ("process_output", "hello")]

        recorder.seen.clear()
        mf.Model.chat_completion("fake/m")("hello")
        assert recorder.seen == []  # one provider's code never runs for another's model


def test_derived_provider_sees_each_stream_chunk_after_the_base():
    recorder = Recorder()
    with registered_plugin(recorder, "recorder"):
        model = mf.Model.chat_completion("derived/m", chunk_size=2)  # base options are inherited
        assert "".join(model("abcd", stream=True)) == "abcd"
    chunks = [data for hook, data in recorder.seen if hook == "process_output"]
    assert len(chunks) >= 2


def test_provider_options_are_checked_against_the_chain():
    with registered_plugin(Recorder(options={"region": "eu"}), "recorder"):
        model = mf.Model.chat_completion("derived/m", region="us")
        assert model.options["region"] == "us"
        with pytest.raises(TypeError, match="Did you mean 'region'"):
            mf.Model.chat_completion("derived/m", regoin="us")


def test_two_plugins_claiming_one_provider_is_an_error_naming_both():
    with (
        registered_plugin(Recorder("twin"), "first"),
        registered_plugin(Recorder("twin"), "second"),
    ):
        with pytest.raises(mf.PluginConflictError, match="'first'.*'second'|'second'.*'first'"):
            mf.Model.chat_completion("twin/m")


def test_override_is_deliberate():
    with (
        registered_plugin(Recorder("twin"), "first"),
        registered_plugin(Recorder("twin", override=True), "second"),
    ):
        assert mf.Model.chat_completion("twin/m").provider == "twin"


def test_unknown_provider_lists_installed_ones_and_suggests():
    with pytest.raises(mf.ProviderNotFoundError) as caught:
        mf.Model.chat_completion("fak/model")
    message = str(caught.value)
    assert (
        "Did you mean 'fake'" in message and "Installed providers:" in message and "fake" in message
    )


def test_known_provider_without_its_plugin_names_the_extra():
    code = (
        "import msgflux as mf\n"
        "try:\n"
        "    mf.Model.chat_completion('openai/gpt-4.1-mini')\n"
        "except ImportError as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    env = {**os.environ, "MSGFLUX_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.startswith("PluginMissingError")
    assert "pip install 'msgflux[openai]'" in out.stdout


def test_misspelled_hook_is_refused_at_registration():
    class Typo:
        @hookimpl
        def adapt_param(self, model, params):
            return params

    with pytest.raises(TypeError, match="did you mean 'adapt_params'"):
        mf.register_plugin(Typo(), "typo")
    assert "typo" not in [plugin.name for plugin in list_plugins()]


def test_plugin_listing_shows_providers_and_hooks():
    with registered_plugin(Recorder(), "recorder"):
        info = next(plugin for plugin in list_plugins() if plugin.name == "recorder")
        assert info.providers == ["derived"]
        assert info.hooks == ["adapt_params", "process_output"]
        assert info.error is None
        assert info.to_dict()["providers"] == ["derived"]


def test_builtin_fake_provider_is_a_plugin_like_any_other():
    info = next(plugin for plugin in list_plugins() if plugin.name == "msgflux.testing.fake")
    assert info.builtin and info.providers == ["fake"]
    assert "initialize_client" in info.hooks and "process_output" in info.hooks
