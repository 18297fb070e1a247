"""``apply_retry`` and ``default_model_retry``: the names msgflux 0.5's custom clients used.

See docs/plugins.md, "A custom in-process provider", stage 3.

Models retry inside the pipeline (``msgflux.utils.retry``), around the transport call and
stream establishment. A custom ``_initialize`` written for the earlier system wraps
``self.acall`` with ``apply_retry``; wrapping again would multiply the attempts, so
``apply_retry`` returns the model's own methods unchanged and wraps anything else.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from msgflux.utils.retry import DEFAULT_RETRY, acall_with_retry, call_with_retry

__all__ = ["apply_retry", "default_model_retry"]

#: The default retry settings (see ``msgflux.utils.retry.DEFAULT_RETRY``).
default_model_retry: Mapping[str, float] = DEFAULT_RETRY


class _Policy:
    def __init__(self, retry: Any) -> None:
        self.retry = retry


def apply_retry(
    function: Callable[..., Any], retry: Any = None, default: Any = None
) -> Callable[..., Any]:
    """``function`` retried under ``retry`` (or ``default``); a model's own method as is."""
    from msgflux.models.chat_completion import ChatCompletionModel

    if isinstance(getattr(function, "__self__", None), ChatCompletionModel):
        return function  # the pipeline already retries: never two layers
    policy = _Policy(retry if retry is not None else default)
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def retried_async(*args: Any, **kwargs: Any) -> Any:
            async def attempt() -> Any:
                return await function(*args, **kwargs)

            return await acall_with_retry(policy, attempt)

        return retried_async

    @functools.wraps(function)
    def retried(*args: Any, **kwargs: Any) -> Any:
        return call_with_retry(policy, lambda: function(*args, **kwargs))

    return retried
