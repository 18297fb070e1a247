"""``nn.Agent``: a model, its instructions and its tools, driven to an answer.

```python
import msgflux as mf
import msgflux.nn as nn


def add(a: int, b: int) -> int:
    \"\"\"Add two numbers.\"\"\"
    return a + b


class Calculator(nn.Agent):
    model = mf.Model.chat_completion("openai/gpt-4.1-mini")
    instructions = "Use the tools. Answer with just the number."
    tools = [add]


Calculator()("What is 3 + 5?")  # "8"
```

One run: the task (plus ``instructions`` as the system prompt) goes to the model; while
the model answers with tool calls, the agent runs them (in parallel when there are several)
and sends the results back; the first answer that is not a tool call is the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.dotdict import dotdict
from msgflux.nn._config import AgentConfig
from msgflux.nn._tools import ToolRunner
from msgflux.nn._verbose import Reporter, snake_case
from msgflux.nn.errors import ToolTurnLimitError
from msgflux.telemetry import state as _telemetry

if TYPE_CHECKING:
    from msgflux.tools import Tool, ToolCallAggregator, ToolDefinitions

__all__ = ["Agent"]

_encode = msgspec.json.Encoder(enc_hook=str).encode


class Agent:
    """An LLM agent: a model, instructions, tools and an output schema, declared once.

    Declare an agent by subclassing (class attributes) or by constructor arguments; a
    constructor argument overrides the class attribute of the same name, and a ``config``
    argument is merged over the class's ``config``::

        class Solver(nn.Agent):
            model = mf.Model.chat_completion("groq/openai/gpt-oss-120b")
            instructions = "Solve the problem."
            config = {"reasoning_in_response": True}

        Solver()("What is 15 * 7 + 3?")
        nn.Agent("openai/gpt-4.1-mini", instructions="Be brief.")("Hi")

    Class attributes / constructor arguments:
        model: A chat-completion model instance, or a ``"provider/model-id"`` string (the
            model is then built with ``mf.Model.chat_completion(model)``, so its key and URL
            come from the provider's environment variables).
        instructions: The system prompt of every model call.
        tools: Python functions (sync or async), methods, partials, callable objects or
            ``msgflux.tools.Tool`` objects. Their schemas come from their signatures and
            docstrings (``ToolDefinitions.from_callables``).
        generation_schema: A msgspec Struct the answer must follow (e.g.
            ``msgflux.generation.reasoning.ChainOfThought``); the answer is then a ``dotdict``.
        typed_parser: The name of a typed parser for the answer (e.g. ``"typed_xml"``).
        config: A dict of the keys below.
        name: The name ``verbose`` prints; defaults to the class name in snake_case.

    Config keys:
        stream (bool, False): Return an :class:`~msgflux.nn.AgentStreamResponse` (a
            ``ModelStreamResponse``) that streams the answer. Tool calls are run as they
            come and the answer after them is streamed into the same response: see
            :class:`~msgflux.nn.AgentStreamResponse` for what a reader sees. Cannot be
            combined with ``generation_schema`` or ``typed_parser``.
        reasoning_in_response (bool, False): Return ``dotdict(answer=..., reasoning=...)``
            when the model's last answer carries reasoning; the plain answer otherwise.
            Non-streaming calls only (a stream has ``consume_reasoning()``).
        verbose (bool, False): Print ``[name][reasoning] ...``, ``[name][response] ...``,
            ``[name][tool_call] ...`` and ``[name][tool_result] ...`` lines.
        max_tool_turns (int, 10): Rounds of tool calls allowed in one run. When the model
            still asks for tools after that many rounds, the run raises
            :class:`~msgflux.nn.ToolTurnLimitError` (it never invents an answer).
        tool_choice (None): ``"auto"``, ``"required"``, ``"none"``, a tool's name, or a
            ``tool_choice`` dict. It applies to the first model call of a run; later calls
            (after tool results) use ``"auto"``, so a forced call cannot loop forever.
        return_messages (bool, False): Return ``dotdict(answer=..., messages=[...])``: the
            conversation of the run (the task, each tool round, the answer), ready to be
            extended and passed to the next call. With ``stream`` it is on the response's
            ``messages`` attribute instead.

    Calling:
        ``agent(task)`` / ``agent.forward(task)`` and ``await agent.acall(task)`` /
        ``await agent.aforward(task)``; ``task`` is a user message (``str``) or a list of
        chat messages (never modified). The result is the answer: ``str`` for text, a
        ``dotdict`` for structured output, wrapped as described for
        ``reasoning_in_response`` / ``return_messages``, or a stream with ``stream=True``.

    Tool calls:
        A tool that raises, arguments that do not fit its parameters, and a tool name the
        model made up all become an ``"Error: ..."`` result the model reads, not an
        exception. Falsy results (``0``, ``""``, ``False``, ``None``) are sent as results.
        Several calls in one answer run in parallel: on threads for a sync call (async
        tools are awaited on a loop of their own), with ``asyncio.gather`` for ``acall``
        (sync tools on the loop's executor).

    An agent keeps no per-call state: one instance serves many threads and tasks at once.
    """

    model: Any = None
    instructions: str | None = None
    tools: Sequence[Callable[..., Any] | Tool] = ()
    generation_schema: type | None = None
    typed_parser: str | None = None
    config: Mapping[str, Any] | None = None
    name: str | None = None

    def __init__(
        self,
        model: Any = None,
        *,
        instructions: str | None = None,
        tools: Iterable[Callable[..., Any] | Tool] | None = None,
        generation_schema: type | None = None,
        typed_parser: str | None = None,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        cls = type(self)
        self.model = _resolve_model(model if model is not None else cls.model, cls.__name__)
        self.instructions = instructions if instructions is not None else cls.instructions
        if self.instructions is not None and not isinstance(self.instructions, str):
            raise TypeError(f"instructions must be a str, got {type(self.instructions).__name__}")
        self.generation_schema = (
            generation_schema if generation_schema is not None else cls.generation_schema
        )
        self.typed_parser = typed_parser if typed_parser is not None else cls.typed_parser
        self._settings = AgentConfig.from_mappings(cls.config, config)
        self.config: Mapping[str, Any] = self._settings.as_mapping()
        self.name = name or cls.name or snake_case(cls.__name__)

        tools = tools if tools is not None else cls.tools
        self.tools = _tool_list(tools)
        self.tool_definitions, self._later_tool_definitions = self._build_tool_definitions()
        self._reporter = Reporter(self.name, self._settings.verbose)
        tool_map = self.tool_definitions.tools if self.tool_definitions is not None else {}
        self._runner = ToolRunner(tool_map, self._reporter)
        self._check_combinations()

    # -- construction ------------------------------------------------------------------------

    def _build_tool_definitions(self) -> tuple[ToolDefinitions | None, ToolDefinitions | None]:
        choice = self._settings.tool_choice
        if not self.tools:
            if choice is not None:
                raise ValueError(
                    f"agent {self.name!r}: config['tool_choice'] is {choice!r} but the agent "
                    "has no tools; add tools or drop tool_choice"
                )
            return None, None
        from msgflux.tools import ToolDefinitions

        first = ToolDefinitions.from_callables(self.tools, choice=choice)
        # "required", a tool's name or a dict force a call: only the first call gets them.
        forces_a_call = choice is not None and choice not in ("auto", "none")
        if not forces_a_call:
            return first, first
        return first, ToolDefinitions.from_callables(self.tools, choice="auto")

    def _check_combinations(self) -> None:
        settings = self._settings
        if settings.stream and self.generation_schema is not None:
            raise ValueError(
                f"agent {self.name!r}: config['stream'] cannot be combined with "
                "generation_schema: structured output is decoded from the whole answer; drop "
                "one of them"
            )
        if settings.stream and self.typed_parser is not None:
            raise ValueError(
                f"agent {self.name!r}: config['stream'] cannot be combined with typed_parser: "
                "the parser needs the whole answer; drop one of them"
            )
        if self.generation_schema is not None:
            from msgflux.generation.flow_control import is_tool_flow_control

            if is_tool_flow_control(self.generation_schema):
                raise ValueError(
                    f"agent {self.name!r}: {self.generation_schema.__name__} drives tools "
                    "through its own schema, which nn.Agent does not run; give the agent "
                    "`tools` (native tool calling) and a schema such as ChainOfThought instead"
                )
        supports = getattr(self.model, "supports", None)
        if supports is not None:
            from msgflux.errors import UnsupportedParameterError

            needs = [("streaming", "config['stream']")] if settings.stream else []
            if self.tools:
                needs.append(("tools", "tools"))
            for capability, what in needs:
                if capability not in supports:
                    raise UnsupportedParameterError(
                        f"agent {self.name!r}: {what} needs {capability}, which provider "
                        f"{getattr(self.model, 'provider', '?')!r} does not support"
                    )

    # -- calling -----------------------------------------------------------------------------

    def __call__(self, task: str | Sequence[Mapping[str, Any]]) -> Any:
        """Run the agent on ``task`` (see the class docstring for the result)."""
        return self.forward(task)

    async def acall(self, task: str | Sequence[Mapping[str, Any]]) -> Any:
        """Async ``__call__``."""
        return await self.aforward(task)

    def forward(self, task: str | Sequence[Mapping[str, Any]]) -> Any:
        """Run the agent on ``task``: the model, the tool loop, the shaped answer."""
        if _telemetry.observer is not None:  # msgflux.instrument(): the run in its span
            return _telemetry.observer.invoke_agent(self, task, self._run)
        return self._run(task)

    async def aforward(self, task: str | Sequence[Mapping[str, Any]]) -> Any:
        """Async ``forward``."""
        if _telemetry.observer is not None:
            return await _telemetry.observer.ainvoke_agent(self, task, self._arun)
        return await self._arun(task)

    def _run(self, task: str | Sequence[Mapping[str, Any]]) -> Any:
        messages = _initial_messages(task)
        if self._settings.stream:
            from msgflux.nn._relay import stream_sync

            return stream_sync(self, messages)
        turn = 0
        while True:
            response = self.model(messages, **self._call_options(turn, stream=False))
            if response.response_type != "tool_call":
                return self._output(response, messages)
            aggregator = response.consume()
            self._before_tools(turn, response.reasoning, aggregator, messages)
            self._runner.run(aggregator)
            messages.extend(aggregator.get_messages())
            turn += 1

    async def _arun(self, task: str | Sequence[Mapping[str, Any]]) -> Any:
        messages = _initial_messages(task)
        if self._settings.stream:
            from msgflux.nn._relay import stream_async

            return await stream_async(self, messages)
        turn = 0
        while True:
            response = await self.model.acall(messages, **self._call_options(turn, stream=False))
            if response.response_type != "tool_call":
                return self._output(response, messages)
            aggregator = response.consume()
            self._before_tools(turn, response.reasoning, aggregator, messages)
            await self._runner.arun(aggregator)
            messages.extend(aggregator.get_messages())
            turn += 1

    # -- the steps of a run (shared with the streaming relay) --------------------------------

    def _call_options(self, turn: int, *, stream: bool) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.instructions is not None:
            options["system_prompt"] = self.instructions
        definitions = self.tool_definitions if turn == 0 else self._later_tool_definitions
        if definitions is not None:
            options["tool_definitions"] = definitions
        if self.generation_schema is not None:
            options["generation_schema"] = self.generation_schema
        if self.typed_parser is not None:
            options["typed_parser"] = self.typed_parser
        if stream:
            options["stream"] = True
        return options

    def _before_tools(
        self,
        turn: int,
        reasoning: str | None,
        aggregator: ToolCallAggregator,
        messages: list[dict[str, Any]],
    ) -> None:
        """Report a tool-call answer, and stop the run when no tool round is left."""
        self._reporter.reasoning(reasoning)
        if aggregator.content:
            self._reporter.response(aggregator.content)
        if turn >= self._settings.max_tool_turns:
            raise ToolTurnLimitError(
                # The resolved name (a str); the class attribute `name` may be None.
                self._reporter.name,
                self._settings.max_tool_turns,
                aggregator.tool_calls,
                messages,
            )

    def _output(self, response: Any, messages: list[dict[str, Any]]) -> Any:
        answer = response.consume()
        reasoning = response.reasoning
        self._reporter.reasoning(reasoning)
        self._reporter.response(answer)
        settings = self._settings
        with_reasoning = settings.reasoning_in_response and reasoning is not None
        if not (with_reasoning or settings.return_messages):
            return answer
        output = dotdict(answer=answer)
        if with_reasoning:
            output["reasoning"] = reasoning
        if settings.return_messages:
            messages.append(_answer_message(answer))
            output["messages"] = messages
        return output

    def __repr__(self) -> str:
        definitions = self.tool_definitions
        tools = (
            [tool.name for tool in definitions.tools.values()] if definitions is not None else []
        )
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, tools={tools!r})"


# -- helpers -------------------------------------------------------------------------------------


def _resolve_model(model: Any, agent_class: str) -> Any:
    if model is None:
        raise ValueError(
            f"{agent_class} has no model: set the class attribute `model = "
            "mf.Model.chat_completion('provider/model-id')` or pass model=... (an instance or a "
            "'provider/model-id' string)"
        )
    if isinstance(model, str):
        from msgflux.models.model import Model

        return Model.chat_completion(model)
    if not (callable(model) and callable(getattr(model, "acall", None))):
        raise TypeError(
            f"{agent_class}.model must be a chat-completion model (mf.Model.chat_completion"
            f"(...)) or a 'provider/model-id' string, got {type(model).__name__}"
        )
    return model


def _tool_list(tools: Any) -> tuple[Any, ...]:
    if tools is None:
        return ()
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        raise TypeError(
            f"tools must be a list of functions (or msgflux.tools.Tool), got {type(tools).__name__}"
        )
    listed: tuple[Any, ...] = tuple(tools)
    for tool in listed:
        if not callable(tool) and not hasattr(tool, "schema"):
            raise TypeError(
                f"each tool must be a function, a callable object or a msgflux.tools.Tool, got "
                f"{tool!r}"
            )
    return listed


def _initial_messages(task: Any) -> list[dict[str, Any]]:
    if isinstance(task, str):
        return [{"role": "user", "content": task}]
    if isinstance(task, list | tuple):
        messages = []
        for position, message in enumerate(task):
            if not isinstance(message, Mapping) or "role" not in message:
                raise ValueError(
                    f"task[{position}] must be a chat message dict with a 'role', got {message!r}"
                )
            messages.append(dict(message))
        return messages
    raise TypeError(
        f"an agent's task must be a str or a list of chat messages, got {type(task).__name__}"
    )


def _answer_message(answer: Any) -> dict[str, Any]:
    content = answer if isinstance(answer, str) else _encode(answer).decode()
    return {"role": "assistant", "content": content}
