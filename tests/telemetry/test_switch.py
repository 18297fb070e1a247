"""The switch: off and free until turned on; the instrumentor convention; the two conventions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import msgflux as mf
from msgflux.telemetry import MsgfluxInstrumentor, is_instrumented, state

LOADED = """
import json, sys
import msgflux as mf
model = mf.Model.chat_completion("fake/echo")
model("hi"); "".join(model("hi", stream=True))
import msgflux.nn, msgflux.telemetry
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
"""


def test_msgflux_never_imports_opentelemetry_until_instrumented():
    out = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_instrument_without_opentelemetry_says_what_to_install():
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"  # as if it were not installed
        "import msgflux as mf\n"
        "try:\n    mf.instrument()\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'msgflux[otel]'" in out.stdout


def test_the_instrumentor_convention(telemetry, make_model):
    instrumentor = MsgfluxInstrumentor()
    assert instrumentor.is_instrumented_by_opentelemetry
    instrumentor.uninstrument()
    assert not is_instrumented() and state.observer is None
    make_model()("hi")
    assert telemetry.spans() == []
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    assert instrumentor.is_instrumented_by_opentelemetry
    assert instrumentor.instrumentation_dependencies() == ()
    make_model()("hi")
    assert len(telemetry.spans()) == 1


def test_capture_content_must_be_a_bool(telemetry):
    with pytest.raises(TypeError, match="capture_content"):
        mf.instrument(capture_content="yes")


def test_without_the_opt_in_the_provider_is_also_named_gen_ai_system(
    telemetry, make_model, monkeypatch, support
):
    # The conventions' transition plan: v1.36 names by default, the latest on request.
    monkeypatch.delenv(support.STABILITY_ENV)
    telemetry.instrument()
    make_model()("hi")
    span = telemetry.span()
    assert span.attributes["gen_ai.system"] == "openai"
    assert span.attributes["gen_ai.provider.name"] == "openai"
    (point,) = telemetry.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.system"] == "openai"
    assert point.attributes["gen_ai.provider.name"] == "openai"


@pytest.mark.parametrize(
    "value", ["gen_ai_latest_experimental", "http, gen_ai_latest_experimental"]
)
def test_the_opt_in_names_the_provider_gen_ai_provider_name(
    telemetry, make_model, monkeypatch, support, value
):
    monkeypatch.setenv(support.STABILITY_ENV, value)
    telemetry.instrument()
    make_model()("hi")
    span = telemetry.span()
    assert span.attributes["gen_ai.provider.name"] == "openai"
    assert "gen_ai.system" not in span.attributes


def test_a_provider_without_a_well_known_value_is_named_as_in_msgflux(telemetry):
    model = mf.Model.chat_completion("fake/echo")
    model("hi")
    span = telemetry.span()
    assert span.attributes["gen_ai.provider.name"] == "fake"
    assert "server.address" not in span.attributes  # an offline provider has no server


def test_well_known_provider_values():
    from msgflux.telemetry._conventions import provider_name

    assert provider_name("groq", latest=True) == "groq"
    assert provider_name("mistral", latest=True) == "mistral_ai"
    assert provider_name("xai", latest=True) == "x_ai"
    assert provider_name("xai", latest=False) == "xai"
    assert provider_name("vllm", latest=True) == "vllm"
