"""The markdown `bench/textual_baseline.py` streams: LLM-ish text, tokenised into ~4 character chunks.

`make_tokens` gives each pane its chunks; `count_top_level_blocks` is what a fresh parse of the whole
text makes, to catch a streaming strategy that duplicated blocks.
"""

from __future__ import annotations

import re

SECTION = """## Section {n}: streaming results

The **worker pool** returned `{n}` batches. Here is a short summary of what
happened, with some *emphasis* and a [link](https://example.com/{n}) for good
measure. Latency stayed within budget for most requests.

- First, we parse the incoming `SSE` events and split them into tokens.
- Second, each token is appended to the **pane** that owns the stream.
- Third, the gauges (TTFT, tokens/s) are refreshed a few times a second.
- Finally, tool calls are logged in a collapsible section.

1. Start the request
2. Wait for the first token
3. Render until the stream closes

```python
async def consume(stream, pane):
    first = None
    count = 0
    async for event in stream:
        if first is None:
            first = time.monotonic()
        count += 1
        await pane.write(event.text)
    return first, count


def rate(count, elapsed):
    return count / elapsed if elapsed else 0.0
```

| Model | TTFT (ms) | Tokens/s |
|-------|-----------|----------|
| alpha-{n} | 212 | 87.5 |
| beta-{n} | 340 | 61.2 |
| gamma-{n} | 95 | 143.0 |
| delta-{n} | 510 | 39.9 |

> Note: numbers above are synthetic; the point is to exercise headings,
> lists, a fenced code block, a table and a block quote.

"""

# BPE-ish: a word (with its leading spaces), a number, 1-3 punctuation chars, or
# a newline run with the next line's indentation. Averages ~3.6 chars/token.
TOKEN_RE = re.compile(r"[ \t]*[A-Za-z]{1,8}|[ \t]*[0-9]{1,3}|[ \t]*[^\sA-Za-z0-9]{1,3}|\n+[ \t]*|[ \t]+")


def make_tokens(n_tokens: int, seed: int = 0) -> list[str]:
    """Return at least n_tokens chunks (whole sections) of markdown."""
    tokens: list[str] = []
    n = seed
    while len(tokens) < n_tokens:
        n += 1
        text = "# Report\n\n" if not tokens else ""
        text += SECTION.format(n=n)
        toks = TOKEN_RE.findall(text)
        assert "".join(toks) == text, "tokeniser lost characters"
        tokens.extend(toks)
    return tokens[:n_tokens]


def count_top_level_blocks(source: str) -> int:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("gfm-like").parse(source)
    return sum(
        1
        for t in tokens
        if t.level == 0 and (t.type.endswith("_open") or t.type in ("fence", "code_block", "hr"))
    )
