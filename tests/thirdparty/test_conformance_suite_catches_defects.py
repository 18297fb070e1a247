"""The conformance suite fails for broken providers: a suite that cannot fail proves nothing.

Two deliberately defective third-party providers run the suite in a child pytest process:
one drops the tools from every request while declaring tool support, the other declares no
logprobs support while its test class claims everything is supported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("msgflux_openai", reason="the defective providers extend openai")

SUITE = textwrap.dedent(
    """
    from msgflux import ProviderSpec, hookimpl
    from msgflux.plugins import register_plugin
    from msgflux.testing.conformance import ProviderConformance


    class DropsTools:
        @hookimpl
        def register_providers(self):
            return [ProviderSpec(name="dropstools", extends="openai", api_key_env=("X_KEY",))]

        @hookimpl
        def adapt_params(self, params):
            params.pop("tools", None)
            params.pop("tool_choice", None)
            return params


    class NoLogprobs:
        @hookimpl
        def register_providers(self):
            capabilities = {"streaming", "tools", "structured_output", "reasoning",
                            "audio_output", "web_search", "vision"}
            return [ProviderSpec(name="nologprobs", extends="openai", api_key_env=("Y_KEY",),
                                 supports=frozenset(capabilities))]


    register_plugin(DropsTools(), "drops-tools")
    register_plugin(NoLogprobs(), "no-logprobs")


    class TestDropsTools(ProviderConformance):
        provider = "dropstools"
        model_id = "m"


    class TestNoLogprobs(ProviderConformance):
        provider = "nologprobs"
        model_id = "m"
    """
)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "test_defective_providers.py"
    path.write_text(SUITE)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(path),
            "-p",
            "msgflux.testing.pytest_plugin",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "-q",
            "-rf",
            "--no-header",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,
    )
    failed = {
        line.split("::", 1)[1].split(" ")[0]
        for line in run.stdout.splitlines()
        if line.startswith("FAILED")
    }
    return run, failed


def _for_each_transport(*tests: str) -> set[str]:
    from msgflux.testing.conformance import TRANSPORTS

    names = set()
    for test in tests:
        name, _, params = test.partition("[")
        for transport in TRANSPORTS:
            names.add(f"{name}[{transport}-{params}" if params else f"{name}[{transport}]")
    return names


def test_dropping_tools_fails_every_tool_test_and_nothing_else(outcome):
    run, failed = outcome
    drops = {name.split("::")[1] for name in failed if name.startswith("TestDropsTools")}
    assert drops == _for_each_transport(
        "test_single_tool_call",
        "test_parallel_tool_calls_with_text",
        "test_streamed_parallel_tool_calls_with_interleaved_fragments[first]",
        "test_streamed_parallel_tool_calls_with_interleaved_fragments[every]",
        "test_streamed_parallel_tool_calls_with_interleaved_fragments[late]",
        "test_tool_results_round_trip",
        "test_tool_strict_as_declared",
    ), run.stdout[-3000:]


def test_an_undeclared_capability_fails_unless_the_suite_is_told(outcome):
    run, failed = outcome
    nologprobs = {name.split("::")[1] for name in failed if name.startswith("TestNoLogprobs")}
    assert nologprobs == _for_each_transport("test_declared_capabilities_match", "test_logprobs"), (
        run.stdout[-3000:]
    )
