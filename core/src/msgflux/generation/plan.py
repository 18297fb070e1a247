"""The older names of the built-in reasoning schemas (``mf.generation.plan.ChainOfThoughts``).

The canonical module is :mod:`msgflux.generation.reasoning`; these are the same classes.
"""

from msgflux.generation.reasoning import ChainOfThought, ReAct, SelfConsistency

ChainOfThoughts = ChainOfThought

__all__ = ["ChainOfThought", "ChainOfThoughts", "ReAct", "SelfConsistency"]
