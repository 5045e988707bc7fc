"""lfg's own token count, for what a provider has not reported yet: the metrics count streamed chunks
with it, and the shared limits a prompt before it is sent."""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    """A chunk's token count before the provider reports usage: about four characters a token."""
    return max(1, (len(text) + 2) // 4)
