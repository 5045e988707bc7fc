"""lfg's own token count, for what a provider has not reported yet: the metrics count streamed chunks
with it, and the shared limits a prompt before it is sent.

A fixed five characters a token (`TOKENS_PER_CHAR`, what real streams of prose counted) reads other
text (code, other languages) off by a third or more until the count arrives. A provider's own
counts say what one of its model's characters is worth: `OutputCalibration` learns that from the
requests that reported it, and each later request of that model in the run
(`RequestSent.tokens_per_char`) is estimated with it. Until one has, the run starts from what the
history's latest counts of that model say (history/calibration.py), so the tickets that start
together are not all estimated at five. A model neither has counted starts from what every model's
counts say, the run's own first (`ANY_MODEL`): tokenisers differ less between models than a fixed
five characters a token is off for most output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

TOKENS_PER_CHAR = 0.2
"""What a character of output counts for before a provider's own count says better: five
characters a token. Real streams of prose and thinking counted 4.6 to 5.3 characters a token
(OpenAI's Responses and Chat Completions, Anthropic's Messages: tests/cost/counted_streams.json),
so four read them 15-30 % high; five reads each within 10 %."""
ANY_MODEL = ("", "")
"""The key of `OutputCalibration.seeded` under which the history's latest counts of every model are,
for a model it has not counted (no provider is named "")."""


def estimate_tokens(text: str) -> int:
    """A prompt's token count before the provider reports usage: about four characters a token."""
    return max(1, (len(text) + 2) // 4)


def tokens_in(chars: int, tokens_per_char: float | None) -> int:
    """The estimated tokens of `chars` characters of output: counted on a request's whole output so
    far, so that no chunk rounds up on its own."""
    return round(chars * (TOKENS_PER_CHAR if tokens_per_char is None else tokens_per_char))


RECENT_COUNTS = 50
"""The latest counts of a model a run rates its characters by: a model's tokeniser does not change
within a run, and a bound keeps a long run's calibration as cheap as a short one's."""


def weighted_median(counts: Iterable[tuple[int, int]]) -> float | None:
    """The tokens per character that half of the `counts`' (tokens, characters) characters were
    counted at or below: each count weighs what it holds, so a few characters rounded far off move
    it little, and unlike a sum, no count however far off (one that held text lfg never saw) moves
    it past the counts that agree. None for no characters."""
    ratios = sorted((tokens / chars, chars) for tokens, chars in counts if chars > 0)
    half = sum(chars for _ratio, chars in ratios) / 2
    seen = 0
    for ratio, chars in ratios:
        seen += chars
        if seen >= half:
            return ratio
    return None


@dataclass
class OutputCalibration:
    """Tokens per character of each provider and model's output, from the counts its requests
    reported over the characters they sent (the tool input an agent sent whole included: its count
    has those tokens too): the weighted median of a model's latest counts, so one count that is off
    (a notice an agent counted, a side call) does not skew the model's rate, nor through the
    fallback every other model's."""

    counted: dict[tuple[str, str], deque[tuple[int, int]]] = field(default_factory=dict)
    """(reported tokens, characters) of the latest calibrating requests, by (provider, model)."""
    seeded: dict[tuple[str, str], float] = field(default_factory=dict)
    """Tokens per character by earlier runs' counts (the history's), until the run has its own."""

    def seed(self, per_char: Mapping[tuple[str, str], float]) -> None:
        """Start from what earlier runs' counts say, for the models this run has not counted yet."""
        self.seeded.update(per_char)

    def learn(self, provider: str, model: str, tokens: int, chars: int) -> None:
        if tokens <= 0 or chars <= 0:
            return
        self.counted.setdefault((provider, model), deque(maxlen=RECENT_COUNTS)).append((tokens, chars))

    def tokens_per_char(self, provider: str, model: str) -> float | None:
        """What a character of the model's output counts for: by this run's counts, else by earlier
        runs'; for a model neither has counted, by this run's counts of every model, else by earlier
        runs' (`ANY_MODEL`); None when nothing has been counted."""
        counted = self.counted.get((provider, model))
        if counted is not None:
            return weighted_median(counted)
        seeded = self.seeded.get((provider, model))
        if seeded is not None:
            return seeded
        if not self.counted:
            return self.seeded.get(ANY_MODEL)
        return weighted_median(count for counts in self.counted.values() for count in counts)
