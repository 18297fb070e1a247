"""Stage 4 of the pipeline: turn a provider's whole answer into a ``ModelResponse``.

The provider chain's ``process_output`` fills the response (text, reasoning, tool calls,
metadata); then this stage does what is the same for every provider: tool calls become the
response's ``ToolCallAggregator``, structured output and typed parsers are decoded, an empty
answer is ``""``, and reasoning is dropped when the model does not return it. (Streams are
finished by ``ModelStreamResponse.finish``.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux.errors import StructuredOutputError
from msgflux.models.response import ModelResponse

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.request import PreparedCall
    from msgflux.tools import ToolCallAggregator

__all__ = ["decode", "respond"]


def respond(model: ChatCompletionModel, output: Any, call: PreparedCall) -> ModelResponse:
    """The response to ``call`` from the provider's answer ``output``."""
    response = model._process_model_output(
        output, call.typed_parser, call.generation_schema, call.structured
    )
    if call.prefilling and response.response_type == "text_generation":
        response.data = call.prefilling + (response.data or "")
    rate_limit = getattr(output, "_msgflux_rate_limit", None)  # set by transports that can
    if rate_limit is not None:
        response.metadata.rate_limit = rate_limit
    return response


def decode(
    model: ChatCompletionModel,
    output: Any,
    typed_parser: str | None,
    generation_schema: type | None,
    structured: Any,
) -> ModelResponse:
    """Run ``process_output`` on ``output``, then the provider-independent decoding."""
    response = ModelResponse()
    model._hooks.process_output(model, output, response)
    if response.tool_calls:
        _as_tool_call(model, response, response.tool_calls)
    elif typed_parser is not None or structured is not None:
        response.data = _decode_structured(
            model, response, typed_parser, generation_schema, structured
        )
        response.response_type = "structured"
    else:
        if response.data is None:
            response.data = ""
        if response.response_type is None:
            response.response_type = "text_generation"
    if not model.return_reasoning:
        response.reasoning = None
    return response


def _as_tool_call(
    model: ChatCompletionModel, response: ModelResponse, aggregator: ToolCallAggregator
) -> None:
    text = response.data if isinstance(response.data, str) else None
    aggregator.content = text or None
    if model.reasoning_in_tool_call and response.reasoning:
        aggregator.reasoning = response.reasoning
    aggregator.provider_data = response.provider_data  # e.g. thinking blocks for the next turn
    response.data = aggregator
    response.response_type = "tool_call"


def _decode_structured(
    model: ChatCompletionModel,
    response: ModelResponse,
    typed_parser: str | None,
    generation_schema: type | None,
    structured: Any,
) -> Any:
    text = response.data if isinstance(response.data, str) else ""
    if model.verbose:
        print(f"[{model.model_id}][raw_response] {text}")
    if not text and response.metadata.get("refusal"):
        raise StructuredOutputError(
            f"the model refused to answer in the requested format: {response.metadata.refusal}",
            raw_text=text,
        )
    if typed_parser is None:
        return structured.decode(text)
    from msgflux.dotdict import dotdict
    from msgflux.dsl.typed_parsers import get_typed_parser, validate_against_schema

    data = dotdict(get_typed_parser(typed_parser).decode(text))
    if generation_schema is not None and model.validate_typed_parser_output:
        data = validate_against_schema(data, generation_schema, raw_text=text)
    return data
