"""Tool calling: tool definitions, the tool-call aggregator, and tools from Python callables.

```python
from msgflux.tools import ToolDefinitions

tools = ToolDefinitions.from_callables([get_weather], choice="auto")
response = model(messages, tool_definitions=tools)
calls = response.consume().get_calls()
```
"""

from msgflux.tools.aggregator import ToolCallAggregator
from msgflux.tools.definitions import ToolDefinitions
from msgflux.tools.errors import (
    MissingToolResultError,
    ToolArgumentsError,
    ToolCallError,
    UnknownToolCallError,
)
from msgflux.tools.functions import Tool, function_schema

__all__ = [
    "MissingToolResultError",
    "Tool",
    "ToolArgumentsError",
    "ToolCallAggregator",
    "ToolCallError",
    "ToolDefinitions",
    "UnknownToolCallError",
    "function_schema",
]
