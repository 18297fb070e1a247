"""Requests for SambaNova Cloud's Chat Completions API.

Sources: SambaNova's API reference ("Create chat completion", and the request types of its
official Python SDK generated from the same OpenAPI spec): ``reasoning_effort``
``low``/``medium``/``high``; ``response_format`` ``json_schema`` with ``name``/``schema``/
``strict``; tool functions with ``name``/``description``/``parameters`` and no ``strict``;
``logprobs`` "not yet supported by our models"; image parts as base64 data only. Text parts
are sent as one string because SambaNova answers list content with "Invalid 'content' type.
Expected one of: ['str'], got list" (reported with gpt-oss-120b).
"""

from __future__ import annotations

from typing import Any

from msgflux.errors import UnsupportedParameterError
from msgflux_openai.compat import (
    check_effort,
    image_urls,
    join_text_parts,
    refuse,
    strip_tool_strict,
)

__all__ = ["EFFORTS", "adapt_request"]

#: The API's reasoning_effort values (gpt-oss-120b reads them).
EFFORTS = ("low", "medium", "high")

_REFUSED = {
    "prompt_cache_retention": "it is an OpenAI-only cache setting",
    "verbosity": "SambaNova has no verbosity control",
}


def adapt_request(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the OpenAI-shaped request (already mapped by the openai plugin) into SambaNova's."""
    refuse("sambanova", params, _REFUSED)
    check_effort("sambanova", params.get("reasoning_effort"), EFFORTS)
    messages = params.get("messages")
    for position, url in image_urls(messages):
        if not url.startswith("data:"):
            raise UnsupportedParameterError(
                f"provider 'sambanova' takes images as base64 data only; messages[{position}] "
                f"has {url[:60]!r}: download the image and send it as 'data:image/png;base64,...'"
            )
    params["messages"] = join_text_parts(messages)
    # SambaNova's tool functions have no `strict` field: leave it out, on copies, so the
    # caller's schemas keep it for providers that honour it.
    if "tools" in params:
        params["tools"] = strip_tool_strict(params["tools"])
    return params
