"""Built-in generation schemas for schema-level reasoning.

* :class:`ChainOfThought`: the reasoning, then the final answer.
* :class:`ReAct`: a thought, then either tool calls (``actions``) or the final answer. Given
  the request's tools, its wire schema lists them (one branch per tool, arguments following
  that tool's parameters) instead of sending native ``tools``.
* :class:`SelfConsistency`: several independent reasoning paths, then the answer they agree on.

The docstrings and field descriptions are part of the schema the model reads.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from msgspec import Meta

from msgflux.generation.flow_control import ToolFlowControl, rewrite_refs, strict_json_schema
from msgflux.generation.structured import TransportSchema

if TYPE_CHECKING:
    from msgflux.tools.definitions import ToolDefinitions

__all__ = ["ChainOfThought", "ReAct", "ReActAction", "ReasoningPath", "SelfConsistency"]


class ChainOfThought(msgspec.Struct):
    """Think the problem through step by step, then give the final answer."""

    reasoning: Annotated[str, Meta(description="Step-by-step reasoning that leads to the answer.")]
    final_answer: Annotated[str, Meta(description="The final answer alone, without the steps.")]


class ReasoningPath(msgspec.Struct):
    """One independent line of reasoning and the answer it reaches."""

    reasoning: Annotated[str, Meta(description="The steps of this line of reasoning.")]
    answer: Annotated[str, Meta(description="The answer this line of reasoning reaches.")]


class SelfConsistency(msgspec.Struct):
    """Solve the problem along several independent lines of reasoning (three or more), compare
    the answers they reach, and give the answer most of them agree on."""

    paths: Annotated[
        list[ReasoningPath],
        Meta(description="Independent reasoning paths, each solving the problem from scratch."),
    ]
    final_answer: Annotated[
        str, Meta(description="The answer most paths agree on (the most consistent one).")
    ]


class ReActAction(msgspec.Struct):
    """A tool call: which tool, with which arguments."""

    name: Annotated[str, Meta(description="The name of the tool to call.")]
    arguments: Annotated[
        dict[str, Any], Meta(description="The tool's arguments, as its parameters describe.")
    ] = {}


_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_THOUGHT = {
    "type": "string",
    "description": "What you know so far and what to do next.",
}
_ACTIONS_DESCRIPTION = (
    "Tool calls to run now; their results come back in the next message. Empty when giving "
    "the final answer."
)
_FINAL_ANSWER = {
    "type": ["string", "null"],
    "description": "The final answer once no more tool calls are needed; null until then.",
}


class ReAct(ToolFlowControl):
    """Reason and act: think about the task, then either call tools (actions) and wait for
    their results, or, once you know enough, give the final answer."""

    thought: Annotated[str, Meta(description=_THOUGHT["description"])]
    actions: Annotated[list[ReActAction], Meta(description=_ACTIONS_DESCRIPTION)] = msgspec.field(
        default_factory=list
    )
    final_answer: Annotated[str | None, Meta(description=_FINAL_ANSWER["description"])] = None

    @classmethod
    def __msgflux_transport_schema__(
        cls, tool_definitions: ToolDefinitions | None
    ) -> TransportSchema:
        """The wire schema: one action branch per tool, or free JSON arguments without tools."""
        schemas = tool_definitions.schemas if tool_definitions is not None else []
        if not schemas:
            return _static_transport(cls)
        return _tools_transport(cls, schemas)


def _root(cls: type, actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": " ".join((cls.__doc__ or "").split()),
        "properties": {
            "thought": dict(_THOUGHT),
            "actions": {"type": "array", "description": _ACTIONS_DESCRIPTION, "items": actions},
            "final_answer": dict(_FINAL_ANSWER),
        },
        "required": ["thought", "actions", "final_answer"],
        "additionalProperties": False,
    }


def _static_transport(cls: type) -> TransportSchema:
    # Without tools, "any JSON object" cannot be strict: the arguments travel as JSON text.
    action = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The name of the tool to call."},
            "arguments": {
                "type": "string",
                "description": 'The tool\'s arguments as a JSON object, e.g. {"city": "Paris"}.',
            },
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }
    return TransportSchema(schema=_root(cls, action), strict=True, normalize=_decode_arguments)


def _decode_arguments(payload: Any) -> Any:
    actions = payload.get("actions") if isinstance(payload, dict) else None
    if type(actions) is not list:
        return payload
    decoded = []
    for action in actions:
        if isinstance(action, dict) and isinstance(action.get("arguments"), str):
            text = action["arguments"]
            try:
                arguments = msgspec.json.decode(text) if text.strip() else {}
            except msgspec.DecodeError:
                arguments = text  # left as text: validation reports it with the raw answer
            action = {**action, "arguments": arguments}
        decoded.append(action)
    return {**payload, "actions": decoded}


def _tools_transport(cls: type, schemas: list[dict[str, Any]]) -> TransportSchema:
    branches = []
    normalizers = {}
    defs: dict[str, Any] = {}
    strict = True
    for schema in schemas:
        function = schema["function"]
        name = function["name"]
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        parameters, tool_strict, tool_normalize = strict_json_schema(parameters)
        strict = strict and tool_strict
        tool_defs = parameters.pop("$defs", None) or {}
        tool_defs.update(parameters.pop("definitions", None) or {})
        if tool_defs:
            # A tool's $defs move to the root, renamed so two tools cannot clash.
            prefix = f"{_UNSAFE.sub('_', name)}__"
            parameters = rewrite_refs(parameters, prefix)
            defs.update({f"{prefix}{k}": rewrite_refs(v, prefix) for k, v in tool_defs.items()})
        branch: dict[str, Any] = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [name]},
                "arguments": parameters,
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        if function.get("description"):
            branch["description"] = function["description"]
        branches.append(branch)
        if tool_normalize is not None:
            normalizers[name] = tool_normalize
    items = branches[0] if len(branches) == 1 else {"anyOf": branches}
    root = _root(cls, items)
    if defs:
        root["$defs"] = defs

    def normalize(payload: Any) -> Any:
        actions = payload.get("actions") if isinstance(payload, dict) else None
        if type(actions) is not list or not normalizers:
            return payload
        out = []
        for action in actions:
            if isinstance(action, dict) and action.get("name") in normalizers:
                fix = normalizers[action["name"]]
                action = {**action, "arguments": fix(action.get("arguments"))}
            out.append(action)
        return {**payload, "actions": out}

    return TransportSchema(schema=root, strict=strict, normalize=normalize, consumes_tools=True)
