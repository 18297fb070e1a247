"""msgflux: one small, fast, typed API for every chat-completion LLM."""
