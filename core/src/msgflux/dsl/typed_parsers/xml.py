"""``typed_xml``: answers written as XML whose elements carry their type.

```xml
<response>
  <name type="str">science fair</name>
  <participants type="list">
    <item type="str">Alice</item>
    <item type="str">Bob</item>
  </participants>
</response>
```

decodes to ``{"name": "science fair", "participants": ["Alice", "Bob"]}``.

The template asks for a ``type`` attribute. msgflux 0.5's template asked for ``dtype``
(``<age dtype="int">30</age>``, ``<roles dtype="list"><role>admin</role></roles>``), and
prompts written for it are still in use, so an element without ``type`` is typed by its
``dtype``, with the same values; when both are present, ``type`` wins. Parsing uses
defusedxml (the ``msgflux[xml]`` extra): model output is untrusted input, and the standard
library's parser is not safe against entity-expansion attacks, so there is no fallback to it.
"""

from __future__ import annotations

import re
from typing import Any

from msgflux.errors import StructuredOutputError

__all__ = ["TypedXMLParser"]

TEMPLATE = """\
{{ instructions }}

Write your answer as typed XML, and nothing else:
- Put the whole answer inside one <response> element.
- Write one child element per field, named after the field.
- Give every element a `type` attribute: str, int, float, bool, list, dict or null.
- A bool is written `true` or `false`.
- A list holds one <item> element per entry, each with its own `type`.
- A dict holds one child element per key, each with its own `type`. When a key is not a
  valid XML name, write <entry key="the key" type="..."> instead.
- Escape &, < and > inside text as &amp;, &lt; and &gt;.

Example:
<response>
  <title type="str">Weekly sync</title>
  <attendees type="int">4</attendees>
  <duration_hours type="float">1.5</duration_hours>
  <remote type="bool">true</remote>
  <topics type="list">
    <item type="str">budget</item>
    <item type="str">hiring</item>
  </topics>
  <room type="dict">
    <building type="str">B</building>
    <floor type="int">2</floor>
  </room>
  <notes type="null"/>
</response>
"""

_INSTRUCTIONS = re.compile(r"\{\{-?\s*instructions\s*-?\}\}")
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_ROOT_START = re.compile(r"<response(?:\s[^>]*)?/?>")

_STR = {"str", "string", "text"}
_INT = {"int", "integer"}
_FLOAT = {"float", "number", "double", "decimal"}
_BOOL = {"bool", "boolean"}
_LIST = {"list", "array", "tuple", "set", "sequence"}
_DICT = {"dict", "object", "map", "mapping"}
_NULL = {"null", "none", "nonetype"}
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class TypedXMLParser:
    """The ``typed_xml`` typed parser.

    Attributes:
        name: ``"typed_xml"``.
        template: The system-prompt template (Jinja syntax, one ``{{ instructions }}``
            placeholder) that asks the model for typed XML.
    """

    name = "typed_xml"
    template = TEMPLATE

    def render(self, instructions: str) -> str:
        """The template with ``instructions`` in place, without needing Jinja."""
        return _INSTRUCTIONS.sub(lambda _: instructions, self.template).strip()

    def decode(self, text: str) -> dict[str, Any]:
        """Parse the model's answer into plain typed data.

        The answer may be wrapped in a Markdown code fence or surrounded by prose; the
        ``<response>`` element is what is read (without one, the whole text is taken as the
        response's content). Repeated child elements at one level become a list.

        Args:
            text: The model's answer.

        Returns:
            The response's fields, typed by their ``type`` attributes, or by ``dtype``
            (msgflux 0.5's) where there is no ``type`` (``list[int]`` style types are
            understood; untyped elements are strings, or dicts/lists when they have children).

        Raises:
            ImportError: defusedxml is not installed (``pip install msgflux[xml]``).
            StructuredOutputError: The XML is malformed or a value does not fit its type;
                ``raw_text`` holds the answer.
        """
        fromstring, parse_error = _defused()
        source = _extract(text)
        try:
            root = fromstring(source, forbid_dtd=True)
        except parse_error as exc:
            raise StructuredOutputError(
                f"The model's answer is not well-formed typed XML: {exc}", raw_text=text
            ) from exc
        except Exception as exc:  # defusedxml's refusals (DTDs, entities) are errors too
            raise StructuredOutputError(
                f"The model's answer was refused by the XML parser: {exc}", raw_text=text
            ) from exc
        try:
            return _children_to_dict(root, None)
        except (ValueError, TypeError) as exc:
            raise StructuredOutputError(
                f"The model's typed XML has a bad value: {exc}", raw_text=text
            ) from exc

    def __repr__(self) -> str:
        return "TypedXMLParser()"


def _defused() -> tuple[Any, type[Exception]]:
    try:
        from defusedxml.ElementTree import ParseError, fromstring
    except ImportError as exc:
        raise ImportError(
            "The typed_xml parser needs defusedxml to read model output safely; install it "
            "with `pip install msgflux[xml]`."
        ) from exc
    return fromstring, ParseError


def _extract(text: str) -> str:
    fence = _FENCE.search(text)
    if fence and "<" in fence.group(1):
        text = fence.group(1)
    text = _DECLARATION.sub("", text)
    start = _ROOT_START.search(text)
    if start is None:
        # No <response>: take the text as its content (bare field elements).
        return f"<response>{text.strip()}</response>"
    if start.group(0).endswith("/>"):
        return start.group(0)
    end = text.rfind("</response>")
    if end == -1:
        return text[start.start() :].strip() + "</response>"
    return text[start.start() : end + len("</response>")]


def _parse_type(raw: str | None) -> tuple[str | None, str | None]:
    """``"list[int]"`` -> ``("list", "int")``; ``"dict[str, int]"`` -> ``("dict", "int")``."""
    if raw is None:
        return None, None
    raw = raw.strip().lower().replace(" ", "")
    if raw.startswith(("optional[", "typing.optional[")):
        raw = raw[raw.index("[") + 1 : -1]
    if "|" in raw:  # "int|None": the non-null part
        parts = [p for p in raw.split("|") if p not in _NULL]
        raw = parts[0] if parts else "null"
    if "[" in raw and raw.endswith("]"):
        base, inner = raw[: raw.index("[")], raw[raw.index("[") + 1 : -1]
        return base, _last_argument(inner) or None  # for a dict, the value type
    return raw, None


def _last_argument(arguments: str) -> str:
    """The last top-level argument of ``"str,list[int]"`` -> ``"list[int]"``."""
    depth = 0
    start = 0
    for i, char in enumerate(arguments):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            start = i + 1
    return arguments[start:]


#: The attributes that declare an element's type, in order of precedence: this parser's
#: template writes ``type``; msgflux 0.5's wrote ``dtype``.
_TYPE_ATTRIBUTES = ("type", "dtype")


def _declared_type(element: Any) -> tuple[str | None, str | None]:
    """The element's ``type`` (or, without one, ``dtype``) attribute and its name."""
    for attribute in _TYPE_ATTRIBUTES:
        value = element.get(attribute)
        if value is not None:
            return value, attribute
    return None, None


def _value(element: Any, default_type: str | None) -> Any:
    declared, attribute = _declared_type(element)
    kind, inner = _parse_type(declared)
    if kind is None:
        kind, inner = _parse_type(default_type)
    children = list(element)
    if kind is None:
        if children:
            kind = "list" if all(child.tag == "item" for child in children) else "dict"
        else:
            kind = "str"
    text = element.text or ""
    if kind in _STR:
        return text.strip()
    if kind in _NULL:
        return None
    if kind in _INT:
        value = text.strip()
        try:
            return int(value)
        except ValueError:
            number = float(value)  # "3.0" is an int the model wrote with a decimal point
            if not number.is_integer():
                raise ValueError(f"<{element.tag}> should be an int, got {value!r}") from None
            return int(number)
    if kind in _FLOAT:
        return float(text.strip())
    if kind in _BOOL:
        value = text.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(f"<{element.tag}> should be true or false, got {text.strip()!r}")
    if kind in _LIST:
        return [_value(child, inner) for child in children]
    if kind in _DICT:
        return _children_to_dict(element, inner)
    if attribute:
        where = f"{attribute}={declared!r}"
    else:  # typed by its parent: list[...] / dict[..., ...]
        where = f"{default_type!r} (its parent's item type)"
    raise ValueError(
        f"<{element.tag}> has the unknown type {where}; the types are str, int, float, bool, "
        "list, dict and null"
    )


def _children_to_dict(element: Any, default_type: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in element:
        key = child.tag
        if key == "entry" and child.get("key") is not None:
            key = child.get("key")
        value = _value(child, default_type)
        if key in out:
            # The same element twice at one level: the model listed values without a <list>.
            if key not in repeated:
                out[key] = [out[key]]
                repeated.add(key)
            out[key].append(value)
        else:
            out[key] = value
    return out
