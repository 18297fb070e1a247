"""The registry of typed parsers, by name."""

from __future__ import annotations

from msgflux.dsl.typed_parsers.base import TypedParser
from msgflux.dsl.typed_parsers.xml import TypedXMLParser
from msgflux.errors import MsgfluxError

__all__ = [
    "TypedParserNotFoundError",
    "get_typed_parser",
    "register_typed_parser",
    "typed_parser_registry",
]

#: Parser name -> parser. ``typed_parser="typed_xml"`` looks the name up here.
typed_parser_registry: dict[str, TypedParser] = {"typed_xml": TypedXMLParser()}


class TypedParserNotFoundError(MsgfluxError, KeyError, ValueError):
    """No typed parser has the requested name.

    Attributes:
        name: The name asked for.
        available: The registered names.
    """

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        names = ", ".join(repr(n) for n in available) or "none"
        super().__init__(f"Unknown typed parser {name!r}; the available parsers are: {names}.")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def get_typed_parser(name: str) -> TypedParser:
    """The parser registered as ``name``.

    Raises:
        TypedParserNotFoundError: No parser has that name; the message lists the available ones.
    """
    try:
        return typed_parser_registry[name]
    except (KeyError, TypeError):
        raise TypedParserNotFoundError(name, sorted(typed_parser_registry)) from None


def register_typed_parser(parser: TypedParser, *, name: str | None = None) -> None:
    """Register ``parser`` under ``name`` (default: ``parser.name``), replacing any other.

    Raises:
        TypeError: ``parser`` lacks ``template`` or ``decode``.
    """
    if not isinstance(parser, TypedParser):
        raise TypeError(f"{parser!r} is not a typed parser (it needs name, template, decode)")
    typed_parser_registry[name or parser.name] = parser
