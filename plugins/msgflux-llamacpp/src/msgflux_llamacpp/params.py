"""Request adaptation: what each llama.cpp server accepts, from msgflux's OpenAI-shaped request.

Three layers. The provider's ``Quirks`` hold the fact true of both servers: ``max_tokens``
bounds the answer (llama-cpp-python ignores ``max_completion_tokens``; llama-server takes
either). :func:`adapt_request` (the ``adapt_params`` hook) holds the other rule true of both:
neither takes msgflux's neutral reasoning options per request. Then, when the
request is sent and the server is known (``server.py``, ``clients.py``), the rules of that
server only (:func:`adapt_for_server`), one function per server:

:func:`for_llama_cpp_python`, from what ``llama-cpp-python``'s server (0.3.x) was observed
to reject or ignore:

- ``response_format`` accepts ``{"type": "json_object", "schema": ...}`` and rejects
  ``{"type": "json_schema", ...}`` with a validation error;
- an assistant message must carry ``content`` as a string (``null`` or a missing key is
  rejected), the ``developer`` role is rejected, and content given as a list of text parts
  fails in chat templates that expect a string;
- a tool call is produced only for a named ``tool_choice``: ``"required"`` is ignored.

:func:`for_llama_server`, for llama.cpp's own ``llama-server``, which accepts all of the
above as OpenAI sends it (and maps ``developer`` itself, except for the templates that use
it), but takes ``tool_choice`` only as one of the strings ``"auto"``, ``"none"`` and
``"required"``: an object is dropped with a "Wrong type supplied" warning in its log and
``"auto"`` used instead, so a named choice becomes ``"required"`` over that one tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgflux.errors import UnsupportedParameterError
from msgflux_llamacpp.server import LLAMA_CPP_PYTHON, LLAMA_SERVER

__all__ = ["adapt_for_server", "adapt_request", "for_llama_cpp_python", "for_llama_server"]


def adapt_request(provider: str, params: dict[str, Any]) -> dict[str, Any]:
    """What both servers need (in place, and returned): the neutral reasoning options go.

    Raises:
        UnsupportedParameterError: ``enable_thinking=True`` or ``reasoning_max_tokens``:
            llama.cpp servers take no such setting per request.
    """
    if params.pop("enable_thinking", None):
        raise UnsupportedParameterError(
            f"provider {provider!r} cannot switch thinking on per request (enable_thinking=True): "
            "a llama.cpp server decides it from the model's chat template when it starts "
            "(llama-cpp-python: --chat_template_kwargs '{\"enable_thinking\": true}'); servers "
            "that read template arguments per request (llama-server) take "
            "extra_body={'chat_template_kwargs': {'enable_thinking': True}}"
        )
    budget = params.pop("reasoning_max_tokens", None)
    if budget is not None:
        raise UnsupportedParameterError(
            f"provider {provider!r} has no per-request reasoning budget "
            f"(reasoning_max_tokens={budget!r}): bound the whole answer with max_tokens, or "
            "start llama-server with --reasoning-budget"
        )
    return params


def adapt_for_server(server: str, params: dict[str, Any]) -> dict[str, Any]:
    """Apply the rules of ``server`` (a kind from ``server.py``) to the adapted ``params``.

    In place, and returned; nested values are replaced, never mutated (they may be the
    caller's).

    Raises:
        UnsupportedParameterError: A ``tool_choice`` the server would silently ignore.
    """
    return _SERVER_RULES[server](params)


# -- llama-cpp-python ---------------------------------------------------------------------------


def for_llama_cpp_python(params: dict[str, Any]) -> dict[str, Any]:
    """llama-cpp-python's rules (see the module docstring)."""
    response_format = params.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        params["response_format"] = _json_object_format(response_format)
    messages = params.get("messages")
    if isinstance(messages, list):
        params["messages"] = [_message(message) for message in messages]
    _name_the_one_required_tool(params)
    return params


def _json_object_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    # The server compiles `schema` into a grammar, so the answer is constrained as with
    # OpenAI's strict mode; `name` and `strict` have no counterpart.
    json_schema = response_format.get("json_schema")
    schema = json_schema.get("schema") if isinstance(json_schema, Mapping) else None
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_object", "schema": schema}


def _message(message: Any) -> Any:
    if not isinstance(message, Mapping):
        return message
    role = message.get("role")
    content = message.get("content")
    changes: dict[str, Any] = {}
    if role == "developer":
        changes["role"] = "system"
    if role == "assistant" and content is None:
        # A tool-call round's assistant message usually has no text: OpenAI sends null.
        changes["content"] = ""
    elif isinstance(content, list) and content and all(_is_text_part(p) for p in content):
        changes["content"] = "\n".join(part["text"] for part in content)
    if not changes:
        return message
    return {**message, **changes}


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, Mapping)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
    )


def _name_the_one_required_tool(params: dict[str, Any]) -> None:
    # "required" with one tool means "call this tool", which the server does honour when
    # the tool is named. With several tools there is no equivalent: the choice is sent as
    # given (the server answers with text).
    tools = params.get("tools")
    if params.get("tool_choice") == "required" and isinstance(tools, list) and len(tools) == 1:
        name = _tool_name(tools[0])
        if name is not None:
            params["tool_choice"] = {"type": "function", "function": {"name": name}}


# -- llama-server -------------------------------------------------------------------------------


def for_llama_server(params: dict[str, Any]) -> dict[str, Any]:
    """A named tool choice becomes ``"required"`` over that one tool; strings pass.

    ``{"type": "function", "function": {"name": N}}`` means "call N": the same request as
    ``"required"`` with ``tools`` narrowed to N, which llama-server enforces with a grammar
    from the first token on. ``parallel_tool_calls`` defaults to ``False`` there, since a
    named choice asks for one call.

    Raises:
        UnsupportedParameterError: Another ``tool_choice`` object, or a name that is not
            among ``tools``: llama-server would silently answer as with ``"auto"``.
    """
    choice = params.get("tool_choice")
    if not isinstance(choice, Mapping):
        return params
    name = _tool_name(choice) if choice.get("type") == "function" else None
    tools = params.get("tools")
    named = [tool for tool in tools if _tool_name(tool) == name] if isinstance(tools, list) else []
    if name is None or not named:
        offered = [_tool_name(tool) for tool in tools] if isinstance(tools, list) else []
        raise UnsupportedParameterError(
            f"llama-server takes tool_choice 'auto', 'none', 'required' or the name of one of "
            f"the tools {offered}; got {choice!r}"
        )
    params["tools"] = named[:1]
    params["tool_choice"] = "required"
    params.setdefault("parallel_tool_calls", False)
    return params


def _tool_name(tool_or_choice: Any) -> str | None:
    function = tool_or_choice.get("function") if isinstance(tool_or_choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    return name if isinstance(name, str) else None


_SERVER_RULES = {LLAMA_CPP_PYTHON: for_llama_cpp_python, LLAMA_SERVER: for_llama_server}
