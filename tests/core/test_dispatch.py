"""Plain dispatch: hook chains without generated code, tracebacks that show the plugin.

Hook implementations may take any subset of a hook's arguments; the chain is resolved once
per provider and called as plain functions (``msgflux._dispatch``).
"""

from __future__ import annotations

import traceback

import pytest

import msgflux as mf
from msgflux import ProviderSpec, hookimpl
from msgflux.plugins import registered_plugin


class Failing:
    """Derives from ``fake``; its ``adapt_params`` takes only ``params`` and raises."""

    @hookimpl
    def register_providers(self):
        return [ProviderSpec(name="failing", extends="fake", api_key_required=False)]

    @hookimpl
    def adapt_params(self, params):
        raise RuntimeError(f"refusing {sorted(params)}")


class Subsets:
    """Implements every per-model hook with a different subset of its arguments."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    @hookimpl
    def register_providers(self):
        return [ProviderSpec(name="subsets", extends="fake", api_key_required=False)]

    @hookimpl
    def validate_options(self, options):
        self.seen.append(("validate_options", dict(options)))

    @hookimpl
    def initialize_client(self, model):
        self.seen.append(("initialize_client", model.provider))

    @hookimpl
    def adapt_params(self, model):
        self.seen.append(("adapt_params", model.model_id))

    @hookimpl
    def extract_reasoning(self, reasoning, message):  # any order: matched by name
        self.seen.append(("extract_reasoning", reasoning))

    @hookimpl
    def process_output(self, response):
        self.seen.append(("process_output", response.data))


def test_a_traceback_through_a_hook_shows_the_plugin_function_and_no_generated_code():
    with registered_plugin(Failing(), "failing-plugin"):
        model = mf.Model.chat_completion("failing/m")
        with pytest.raises(RuntimeError, match="refusing") as caught:
            model("hi")

    frames = traceback.extract_tb(caught.value.__traceback__)
    names = [frame.name for frame in frames]
    assert names[-1] == "adapt_params"
    assert frames[-1].filename == __file__  # the plugin's own frame, last
    assert names[-2] == "run_replacing_hook"  # the one frame of msgflux's own between
    assert not {"single", "chained", "call"} & set(names)
    assert all(not frame.filename.startswith("<") for frame in frames)


def test_implementations_taking_any_subset_of_the_arguments_get_the_right_ones():
    plugin = Subsets()
    with registered_plugin(plugin, "subsets-plugin"):
        model = mf.Model.chat_completion("subsets/m", chunk_size=2)
        model("hello")
        model.extract_reasoning(object())

    assert plugin.seen == [
        ("validate_options", {**mf.Model.chat_completion("fake/m").options, "chunk_size": 2}),
        ("initialize_client", "subsets"),
        ("adapt_params", "m"),
        ("process_output", "hello"),
        ("extract_reasoning", None),
    ]


def test_hooks_are_resolved_once_per_provider_and_again_after_a_plugin_change():
    from msgflux.plugins import resolve_hooks

    first = resolve_hooks("fake")
    assert resolve_hooks("fake") is first
    with registered_plugin(Subsets(), "subsets-plugin"):
        assert resolve_hooks("fake") is not first
