"""Structured generation: msgspec Structs as output schemas, and built-in reasoning schemas.

```python
from msgflux.generation import structured_output

output = structured_output(CalendarEvent)
request["response_format"] = output.response_format
event = output.decode(answer_text)          # a dotdict, validated against CalendarEvent
```

``msgflux.generation.reasoning`` holds ``ChainOfThought``, ``ReAct`` and ``SelfConsistency``;
``msgflux.generation.plan`` keeps the older names (``ChainOfThoughts``...).
"""

from __future__ import annotations

import importlib
from typing import Any

from msgflux.generation.structured import StructuredOutput, TransportSchema, structured_output

__all__ = ["StructuredOutput", "TransportSchema", "plan", "reasoning", "structured_output"]

_SUBMODULES = {"plan", "reasoning", "schema", "flow_control"}


def __getattr__(name: str) -> Any:
    # `mf.generation.plan.ReAct` works without importing every submodule up front.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
