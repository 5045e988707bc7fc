"""Run history: an SQLite file of every stream, searchable, exportable, and restorable into panes.

- `schema`: the numbered migrations (tables, indexes, the FTS5 index and its triggers);
- `database`: where the file lives, opening it safely (permissions, WAL, migrations), transactions;
- `lock`: the per-run `flock` that tells a live run from a crashed one;
- `rows`: one dataclass per table, the records that nest them, and the column codecs;
- `search`: the user's words as a safe FTS5 query, the filters as SQL, and search hits, highlighted;
- `stats`: what the stats report per model and per day, and the sums behind them;
- `rebuild`: an attempt's events (with their original times) and conversation, back from its rows;
- `recovery`: marking the attempts of crashed runs `interrupted` when the file is opened;
- `store`: every reader (ids, list, search, show, stats, an attempt's events and conversation);
- `recorder`: a run's events into rows, one batch per transaction (every write of a recorded run);
- `writer`: the sink a run feeds and the writer task that batches events for the recorder;
- `recorded`: the recorder's twin, a recorded run read back for `lfg resume` and `lfg replay` (its
  tickets as they ran, each attempt's events, replay's timeline and clock);
- `export`: Markdown and lossless JSON, and importing JSON back.
"""
