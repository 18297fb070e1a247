"""A generation schema from a JSON Schema document (``msgflux chat --json-schema``, batch
files' ``response_format``)."""

from __future__ import annotations

from typing import Any

__all__ = ["json_schema_class"]


def json_schema_class(schema: dict[str, Any], name: str) -> type:
    """A ``generation_schema`` class whose wire schema is ``schema``.

    Rather than translate the JSON Schema into a msgspec Struct (lossy: formats, patterns,
    unions...), the class implements the core's transport-schema protocol
    (``__msgflux_transport_schema__``, as ``ReAct`` does): the schema goes on the wire as
    written, lowered to the strict subset where possible, and the core still checks the
    provider supports structured output, builds ``response_format``, runs the provider's
    ``adapt_params`` and decodes the answer, handed back as an instance of the class (a
    ``dict``).

    Args:
        schema: A JSON Schema of an object.
        name: The schema's name on the wire (letters, digits, ``_`` and ``-``).
    """
    from msgflux.generation import TransportSchema
    from msgflux.generation.flow_control import strict_json_schema

    wire_schema, strict, drop_nulls = strict_json_schema(schema)

    class FileSchema(dict):  # type: ignore[type-arg]
        # The decoded answer is handed back as an instance of this class, the shape the core
        # validates against, so it passes through unchanged as a plain JSON object.
        @classmethod
        def __msgflux_transport_schema__(cls, tool_definitions: Any) -> TransportSchema:
            def normalize(payload: Any) -> Any:
                return cls(drop_nulls(payload) if drop_nulls is not None else payload)

            return TransportSchema(schema=wire_schema, strict=strict, normalize=normalize)

    FileSchema.__name__ = FileSchema.__qualname__ = name
    return FileSchema
