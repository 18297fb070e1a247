"""The protocol every typed parser follows."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["TypedParser"]


@runtime_checkable
class TypedParser(Protocol):
    """A text format with types, and its decoder.

    Attributes:
        name: The registry name (``typed_parser="<name>"``).
        template: A system-prompt template with an ``{{ instructions }}`` placeholder, in
            Jinja syntax (render it with Jinja or with :meth:`render`).
    """

    name: str
    template: str

    def render(self, instructions: str) -> str:
        """The template with ``instructions`` in place (no Jinja needed)."""
        ...

    def decode(self, text: str) -> dict[str, Any]:
        """The model's answer -> plain typed data.

        Raises:
            msgflux.errors.StructuredOutputError: The text cannot be decoded; ``raw_text``
                holds it.
        """
        ...
