"""Run history: an SQLite file of every stream, searchable, exportable, and restorable into panes.

- `schema`: the numbered migrations (tables, indexes, the FTS5 index and its triggers);
- `store`: where the file lives, opening and recovering it, and every reader (list, search, show,
  stats, an attempt's events with their original times, its conversation);
- `writer`: the sink a run feeds and the single writer that batches events into rows;
- `export`: Markdown and lossless JSON, and importing JSON back;
- `cli`: `lfg history list|search|show|export|import|stats`.
"""
