"""The names msgflux records, and the two environment variables that choose what it records.

Names follow the OpenTelemetry semantic conventions for generative AI (status: development):
the attribute registry ``docs/registry/attributes/gen-ai.md``, the client spans
``docs/gen-ai/gen-ai-spans.md``, the agent spans ``docs/gen-ai/gen-ai-agent-spans.md`` and the
client metrics ``docs/gen-ai/gen-ai-metrics.md`` of open-telemetry/semantic-conventions
(v1.37 and later), published at https://opentelemetry.io/docs/specs/semconv/gen-ai/.

``OTEL_SEMCONV_STABILITY_OPT_IN``: the conventions' transition plan lets an instrumentation
keep the names of v1.36 and earlier by default and emit only the latest experimental ones
when the comma-separated list holds ``gen_ai_latest_experimental``. msgflux records the
provider as ``gen_ai.provider.name`` always and, by default, also as ``gen_ai.system`` (what the
``openai`` SDK's instrumentation, which msgflux 0.5 users saw, records), so dashboards built on
either name keep working; with the opt-in, only ``gen_ai.provider.name``. Attributes that
never had an older name (cached and reasoning tokens, time to first chunk) are recorded
either way.

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: message content (prompts, answers,
tool arguments and results) is recorded only when this says so: ``true`` (the older
conventions' value), or ``SPAN_ONLY`` / ``SPAN_AND_EVENT`` (the latest ones'). msgflux
records content on spans only (``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``), so ``EVENT_ONLY`` records none.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

__all__ = [
    "CAPTURE_ENV",
    "LATEST_EXPERIMENTAL",
    "STABILITY_ENV",
    "capture_content_from_env",
    "latest_from_env",
    "provider_name",
]

logger = logging.getLogger("msgflux.telemetry")

STABILITY_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# -- attribute names -------------------------------------------------------------------------

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"  # latest experimental conventions
SYSTEM = "gen_ai.system"  # v1.36 and earlier: what PROVIDER replaced
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
OUTPUT_TYPE = "gen_ai.output.type"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
AGENT_NAME = "gen_ai.agent.name"
AGENT_DESCRIPTION = "gen_ai.agent.description"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

#: Request parameters (OpenAI's names, as msgflux sends them, and the Anthropic Messages
#: API's where they differ) -> their attribute.
REQUEST_PARAMETERS: Mapping[str, str] = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "stop": "gen_ai.request.stop_sequences",
    "stop_sequences": "gen_ai.request.stop_sequences",  # the Messages API's name
    "n": "gen_ai.request.choice.count",
}

# -- well-known provider values -------------------------------------------------------------

# msgflux provider -> the conventions' well-known value, where one exists; the two
# conventions spell a few differently. Any other provider is recorded by its msgflux name.
_LATEST_PROVIDERS = {
    "openai": "openai",
    "groq": "groq",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "mistral": "mistral_ai",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "watsonx": "ibm.watsonx.ai",
}
_LEGACY_PROVIDERS = {
    **_LATEST_PROVIDERS,
    "xai": "xai",
    "azure": "az.ai.openai",
    "gemini": "gemini",
    "vertex_ai": "vertex_ai",
}


def provider_name(provider: str, *, latest: bool) -> str:
    """The value recorded for a msgflux provider (its well-known value, else its own name)."""
    table = _LATEST_PROVIDERS if latest else _LEGACY_PROVIDERS
    return table.get(provider, provider)


# -- the environment ------------------------------------------------------------------------


def latest_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks for the latest GenAI conventions."""
    values = environ.get(STABILITY_ENV, "")
    return LATEST_EXPERIMENTAL in (value.strip() for value in values.split(","))


_CAPTURING = frozenset({"true", "span_only", "span_and_event"})
_NOT_CAPTURING = frozenset({"", "false", "no_content", "event_only"})


def capture_content_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` turns content on."""
    value = environ.get(CAPTURE_ENV, "").strip().lower()
    if value in _CAPTURING:
        return True
    if value == "event_only":
        logger.warning(
            "%s=EVENT_ONLY: msgflux records message content on spans only, so none is "
            "recorded; use SPAN_ONLY to record it on spans",
            CAPTURE_ENV,
        )
    elif value not in _NOT_CAPTURING:
        logger.warning(
            "%s=%r is not a known value (true, false, NO_CONTENT, SPAN_ONLY, SPAN_AND_EVENT, "
            "EVENT_ONLY): message content is not recorded",
            CAPTURE_ENV,
            value,
        )
    return False
