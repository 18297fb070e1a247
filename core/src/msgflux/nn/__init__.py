"""Neural-network-style building blocks on top of models: ``nn.Agent``.

```python
import msgflux as mf
import msgflux.nn as nn


class Assistant(nn.Agent):
    model = mf.Model.chat_completion("openai/gpt-4.1-mini")
    instructions = "Answer concisely."


Assistant()("What is 2 + 2?")
```
"""

from msgflux.nn._config import CONFIG_KEYS
from msgflux.nn._relay import TURN_SEPARATOR, AgentStreamResponse
from msgflux.nn.agent import Agent
from msgflux.nn.errors import ToolTurnLimitError

__all__ = ["CONFIG_KEYS", "TURN_SEPARATOR", "Agent", "AgentStreamResponse", "ToolTurnLimitError"]
