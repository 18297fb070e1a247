"""``mf.set_envs``: set environment variables (API keys, base URLs) from code."""

from __future__ import annotations

import os

__all__ = ["set_envs"]


def set_envs(**variables: str | None) -> None:
    """Set (or, with ``None``, remove) environment variables, e.g. ``set_envs(GROQ_API_KEY="...")``.

    Models read their key when created, so set it before ``mf.Model.chat_completion``.
    """
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        elif not isinstance(value, str):
            raise TypeError(f"{name} must be a str (or None to unset), got {type(value).__name__}")
        else:
            os.environ[name] = value
