"""Tools from Python callables: the function schema, and the call from a model's arguments.

A callable's parameters become a msgspec Struct built on the fly (type hints, defaults, and
docstring descriptions as ``Meta(description=...)``), so the function schema comes from the
same compiler as generation schemas, and the model's arguments are validated and converted
by msgspec into the values the function expects (Structs, Enums, datetimes...).
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import msgspec

from msgflux.generation.schema import compile_schema
from msgflux.tools.docstrings import parse_docstring
from msgflux.tools.errors import ToolArgumentsError

__all__ = ["Tool", "function_schema"]

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def function_schema(
    func: Callable[..., Any],
    *,
    strict: bool = True,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The function-calling schema of a Python callable.

    Args:
        func: A function, async function, bound method, ``functools.partial`` or callable
            object. Parameters come from its signature and type hints (unannotated ones are
            typed from their default value, else as strings); descriptions from its Google,
            reST or NumPy docstring. ``self``/``cls``, ``*args`` and ``**kwargs`` are left out.
        strict: The strict form (every parameter in ``required``; optional and defaulted
            ones nullable; ``additionalProperties: false``; mappings lowered to entry lists)
            or the plain form (only parameters without a default are required).
        name: The tool's name; defaults to the function's ``__name__``.
        description: The tool's description; defaults to the docstring's summary.

    Returns:
        ``{"type": "function", "function": {"name", "description", "parameters", "strict"}}``.
        A fresh dict.

    Raises:
        ValueError: The name is not a valid tool name, or a parameter is positional-only.
        TypeError: A parameter's type cannot be expressed as JSON.
    """
    return Tool.from_callable(func, strict=strict, name=name, description=description).schema


class Tool:
    """A Python callable exposed to a model as a tool.

    Build one with :meth:`from_callable`. :attr:`schema` is what the model sees;
    :meth:`parse_arguments` turns the model's arguments (``ToolCallAggregator.get_calls()``)
    into keyword arguments of the right Python types; :meth:`call` / :meth:`acall` run it.

    Attributes:
        func: The callable.
        name: The tool's name.
        description: The tool's description.
        strict: Whether the schema is in the strict form.
    """

    __slots__ = (
        "_parameters",
        "_params",
        "_restore",
        "_var_kwargs",
        "description",
        "func",
        "name",
        "strict",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str,
        description: str,
        params: type[msgspec.Struct],
        parameters: dict[str, Any],
        strict: bool,
        restore: Callable[[Any], Any],
        var_kwargs: bool,
    ) -> None:
        self.func = func
        self.name = name
        self.description = description
        self.strict = strict
        self._params = params
        self._parameters = parameters
        self._restore = restore
        self._var_kwargs = var_kwargs

    @classmethod
    def from_callable(
        cls,
        func: Callable[..., Any],
        *,
        strict: bool = True,
        name: str | None = None,
        description: str | None = None,
    ) -> Tool:
        """Describe ``func`` as a tool (see :func:`function_schema` for the rules)."""
        target = _unwrap(func)
        tool_name = name or getattr(target, "__name__", None) or type(func).__name__
        if not _NAME_RE.match(tool_name):
            raise ValueError(
                f"{tool_name!r} is not a valid tool name (letters, digits, '_' and '-', at most "
                "64 characters); pass name=..."
            )
        doc = parse_docstring(inspect.getdoc(target) if not _is_instance(func) else _doc(func))
        params, var_kwargs = _params_struct(func, target, tool_name, doc.params)
        compiled = compile_schema(params, strict=strict)
        parameters = dict(compiled.schema)
        parameters.pop("description", None)  # the Struct built here has no docstring anyway
        return cls(
            func,
            name=tool_name,
            description=description if description is not None else doc.summary,
            params=params,
            parameters=parameters,
            strict=strict and compiled.strict,
            restore=compiled.restore,
            var_kwargs=var_kwargs,
        )

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the parameters (a fresh copy)."""
        schema: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self._parameters))
        return schema

    @property
    def schema(self) -> dict[str, Any]:
        """The function-calling schema (a fresh dict)."""
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.parameters
        function["strict"] = self.strict
        return {"type": "function", "function": function}

    def parse_arguments(self, arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
        """The model's arguments -> keyword arguments for the function.

        Lowered shapes are restored, ``null`` for a defaulted parameter means "use the
        default" (the keyword is left out), and values are converted to the annotated types.

        Args:
            arguments: The decoded arguments (``get_calls()[i]["function"]["arguments"]``) or
                their JSON text.

        Raises:
            ToolArgumentsError: The arguments are not a JSON object or do not fit the
                parameters; ``raw_text`` holds them as JSON.
        """
        raw = arguments
        if isinstance(arguments, (str, bytes)):
            try:
                arguments = msgspec.json.decode(arguments) if arguments.strip() else {}
            except msgspec.DecodeError as exc:
                raise self._error(f"are not valid JSON ({exc})", raw) from exc
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise self._error(f"must be a JSON object, got {type(arguments).__name__}", raw)
        payload = self._restore(dict(arguments))
        known = self._params.__struct_fields__
        extra = {k: v for k, v in payload.items() if k not in known} if self._var_kwargs else {}
        try:
            value = msgspec.convert(
                {k: v for k, v in payload.items() if k not in extra}, self._params
            )
        except msgspec.ValidationError as exc:
            raise self._error(f"do not fit its parameters: {exc}", raw) from exc
        # Only the keywords the model gave: omitted ones keep the function's own defaults.
        kwargs = {field: getattr(value, field) for field in known if field in payload}
        kwargs.update(extra)
        return kwargs

    def call(self, arguments: Mapping[str, Any] | str | None) -> Any:
        """Run the function with the model's arguments (sync functions only)."""
        if _is_async(self.func):
            raise TypeError(f"The tool {self.name!r} is async; use `await tool.acall(...)`.")
        return self.func(**self.parse_arguments(arguments))

    async def acall(self, arguments: Mapping[str, Any] | str | None) -> Any:
        """Run the function with the model's arguments, awaiting it when it is async."""
        result = self.func(**self.parse_arguments(arguments))
        if inspect.isawaitable(result):
            result = await result
        return result

    def _error(self, what: str, raw: Any) -> ToolArgumentsError:
        if isinstance(raw, bytes):
            raw_text = raw.decode("utf-8", "replace")
        elif isinstance(raw, str):
            raw_text = raw
        else:
            raw_text = msgspec.json.encode(raw, enc_hook=str).decode()
        return ToolArgumentsError(
            f"The arguments for the tool {self.name!r} {what}", name=self.name, raw_text=raw_text
        )

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, strict={self.strict})"


# -- building the parameters Struct -------------------------------------------------------------


def _unwrap(func: Callable[..., Any]) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _is_instance(func: Any) -> bool:
    """A callable object (not a function, method, class or partial)."""
    return not (
        inspect.isroutine(func) or inspect.isclass(func) or isinstance(func, functools.partial)
    )


def _doc(obj: Any) -> str | None:
    call_doc = inspect.getdoc(type(obj).__call__)
    return call_doc or inspect.getdoc(type(obj))


def _is_async(func: Any) -> bool:
    func = _unwrap(func)
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(type(func), "__call__", None)  # noqa: B004 - callable objects' method
    return _is_instance(func) and inspect.iscoroutinefunction(call)


def _hints(func: Any) -> dict[str, Any]:
    target = _unwrap(func)
    if _is_instance(target):
        target = type(target).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        return dict(getattr(target, "__annotations__", {}) or {})


def _params_struct(
    func: Callable[..., Any], target: Any, tool_name: str, descriptions: dict[str, str]
) -> tuple[type[msgspec.Struct], bool]:
    signature = inspect.signature(func)  # drops self for bound methods, bound partial args
    hints = _hints(func)
    fields: list[tuple[Any, ...]] = []
    var_kwargs = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_kwargs = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ValueError(
                f"The parameter {param.name!r} of the tool {tool_name!r} is positional-only; "
                "tool arguments are passed by keyword."
            )
        annotation = hints.get(param.name, param.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = _infer(param.default)
        description = descriptions.get(param.name)
        if description and not _has_description(annotation):
            annotation = Annotated[annotation, msgspec.Meta(description=description)]
        if param.default is inspect.Parameter.empty:
            fields.append((param.name, annotation))
        else:
            fields.append((param.name, annotation, param.default))
    try:
        struct = msgspec.defstruct(
            f"{tool_name}_params",
            fields,
            kw_only=True,
            forbid_unknown_fields=not var_kwargs,
            module=getattr(target, "__module__", None),
        )
        msgspec.inspect.type_info(struct)  # surface unsupported types here, with the tool name
    except TypeError as exc:
        raise TypeError(
            f"The tool {tool_name!r} has a parameter type msgspec cannot use: {exc}"
        ) from exc
    return struct, var_kwargs


def _infer(default: Any) -> Any:
    if default is inspect.Parameter.empty or default is None:
        return str  # no hint and nothing to learn from: the model will send text
    for kind in (bool, int, float, str):
        if type(default) is kind:
            return kind
    if isinstance(default, (list, tuple)):
        return list[str]
    if isinstance(default, dict):
        return dict[str, str]
    return str


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(
        isinstance(extra, msgspec.Meta) and extra.description
        for extra in getattr(annotation, "__metadata__", ())
    )
