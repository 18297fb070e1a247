"""Validate data decoded by a typed parser against a generation schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.dotdict import dotdict
from msgflux.errors import StructuredOutputError

__all__ = ["validate_against_schema"]


def validate_against_schema(
    data: Mapping[str, Any], schema: type, *, raw_text: str | None = None
) -> dotdict:
    """Check ``data`` against ``schema`` (a msgspec Struct) and return it in the schema's form.

    Text formats lose some types (a number written without its type is a string), so the
    conversion is lax: ``"3"`` is accepted for an ``int`` field, ``"true"`` for a ``bool``.

    Args:
        data: What the typed parser decoded.
        schema: The generation schema.
        raw_text: The model's raw answer, kept on the error.

    Returns:
        The validated data in plain form (``msgspec.to_builtins`` of the Struct), as a dotdict.

    Raises:
        StructuredOutputError: ``data`` does not fit ``schema``.
    """
    try:
        value: object = msgspec.convert(dict(data), schema, strict=False)
    except (msgspec.ValidationError, TypeError) as exc:
        name = getattr(schema, "__name__", repr(schema))
        raise StructuredOutputError(
            f"The typed parser's output does not match {name}: {exc}",
            raw_text=raw_text if raw_text is not None else _as_text(data),
        ) from exc
    return dotdict(msgspec.to_builtins(value))


def _as_text(data: Any) -> str:
    return msgspec.json.encode(data, enc_hook=str).decode()
