"""Typed parsers: a prompt template that asks for a typed text format, and its decoder.

```python
from msgflux.dsl.typed_parsers import get_typed_parser

typed_xml = get_typed_parser("typed_xml")
system_prompt = typed_xml.render("name: str\\nparticipants: list[str]")
data = typed_xml.decode(answer_text)      # {'name': ..., 'participants': [...]}
```
"""

from msgflux.dsl.typed_parsers.base import TypedParser
from msgflux.dsl.typed_parsers.registry import (
    TypedParserNotFoundError,
    get_typed_parser,
    register_typed_parser,
    typed_parser_registry,
)
from msgflux.dsl.typed_parsers.validation import validate_against_schema
from msgflux.dsl.typed_parsers.xml import TypedXMLParser

__all__ = [
    "TypedParser",
    "TypedParserNotFoundError",
    "TypedXMLParser",
    "get_typed_parser",
    "register_typed_parser",
    "typed_parser_registry",
    "validate_against_schema",
]
