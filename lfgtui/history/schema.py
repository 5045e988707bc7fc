"""The history file's schema, as numbered migrations applied in order.

`PRAGMA user_version` is the number of migrations a file has had. A released migration never
changes: a new version of the schema is a new entry at the end of `MIGRATIONS`.

Shape: runs → tickets → attempts → requests (one row per request sent to a model: a model call
sent again after a failure is a new request of the same `call`) and parts (the attempt's prompt,
text, reasoning, tool calls, tool results, statuses and error, in `seq` order; each names the
request it came in). Migrations 1 and 2 still say `turns`, `turn` and `max_turns`: migration 3
renamed them.
Times inside an attempt are milliseconds since its `AttemptStarted`; wall-clock times are Unix
seconds. A streamed part carries `chunks`: the arrival of each delta as unsigned LEB128 varint
pairs (ms since the previous chunk, characters), so a stream can be replayed at its pace. While it
streams, what each batch adds to it is a row of `part_tails` (migration 19), folded into the part
once it is sealed.

Search: `parts_fts` is an external-content FTS5 index over the view `part_search`, which spreads
each part's text over one column per kind so bm25 can weigh prompts and answers above tool output.
`rank` is bm25 with weights 10 (prompt), 10 (answer), 4 (reasoning), 2 (tool I/O), 2 (error).
Only sealed parts are indexed (a streaming part is sealed once its kind, call or attempt ends), so
a growing answer is tokenised once, not at every batch. The triggers keep the index in sync; their
expressions must equal the view's, so both are built from the same two templates below.
"""

from __future__ import annotations

from enum import StrEnum


class PartKind(StrEnum):
    """What a part holds; `status` parts (retries, skips, interruptions) are shown but not indexed."""

    PROMPT = "prompt"
    TEXT = "text"
    REASONING = "reasoning"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    STATUS = "status"
    ERROR = "error"


_V1_INDEXED = (
    "{p}.sealed AND {p}.kind IN ('prompt', 'text', 'reasoning', 'tool_call', 'tool_result', 'error')"
)
_V1_COLUMNS = (
    "CASE WHEN {p}.kind = 'prompt' THEN {p}.text END, "
    "CASE WHEN {p}.kind = 'text' THEN {p}.text END, "
    "CASE WHEN {p}.kind = 'reasoning' THEN {p}.text END, "
    "CASE WHEN {p}.kind IN ('tool_call', 'tool_result') THEN coalesce({p}.name || ' ', '') || {p}.text END, "
    "CASE WHEN {p}.kind = 'error' THEN {p}.text END"
)

V1 = f"""
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    tickets_file TEXT,
    command TEXT NOT NULL DEFAULT '',
    cwd TEXT,
    lfg_version TEXT
) WITHOUT ROWID;
CREATE INDEX runs_started ON runs(started_at);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    ticket TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL DEFAULT '',
    system TEXT,
    provider TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    tools TEXT NOT NULL DEFAULT '[]',
    depends_on TEXT NOT NULL DEFAULT '[]',
    max_turns INTEGER,
    max_tokens INTEGER,
    temperature REAL,
    workdir TEXT,
    UNIQUE (run_id, ticket)
);
CREATE INDEX tickets_ticket ON tickets(ticket);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    provider TEXT,
    model TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    ended_ms REAL,
    outcome TEXT CHECK (outcome IN ('completed', 'cancelled', 'failed', 'interrupted', 'skipped')),
    error_kind TEXT,
    error_message TEXT,
    error_status INTEGER,
    ttft_ms REAL,
    ttft_text_ms REAL,
    ttft_reasoning_ms REAL,
    tokens_per_s REAL,
    output_tokens INTEGER,
    input_tokens INTEGER,
    tokens_estimated INTEGER NOT NULL DEFAULT 0,
    UNIQUE (ticket_id, number)
) WITHOUT ROWID;
CREATE INDEX attempts_ticket ON attempts(ticket_id);
CREATE INDEX attempts_model ON attempts(provider, model);
CREATE INDEX attempts_open ON attempts(ticket_id) WHERE outcome IS NULL;

CREATE TABLE turns (
    id INTEGER PRIMARY KEY,
    attempt_id TEXT NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    call INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    request_ms REAL NOT NULL,
    first_reasoning_ms REAL,
    first_text_ms REAL,
    first_token_ms REAL,
    last_token_ms REAL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    estimated_tokens INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER,
    output_tokens INTEGER,
    reasoning_tokens INTEGER,
    usage_seq INTEGER,
    usage_ms REAL,
    ended_seq INTEGER,
    ended_ms REAL,
    stop_reason TEXT,
    UNIQUE (attempt_id, n)
);

CREATE TABLE parts (
    id INTEGER PRIMARY KEY,
    attempt_id TEXT NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    turn INTEGER,
    kind TEXT NOT NULL
        CHECK (kind IN ('prompt', 'text', 'reasoning', 'tool_call', 'tool_result', 'status', 'error')),
    text TEXT NOT NULL DEFAULT '',
    call_id TEXT,
    name TEXT,
    is_error INTEGER NOT NULL DEFAULT 0,
    t_ms REAL NOT NULL,
    end_ms REAL NOT NULL,
    chunks BLOB NOT NULL DEFAULT x'',
    meta TEXT,
    sealed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (attempt_id, seq)
);

CREATE VIEW part_search (id, prompt, answer, reasoning, tool, error) AS
    SELECT id, {_V1_COLUMNS.format(p="parts")} FROM parts WHERE {_V1_INDEXED.format(p="parts")};

CREATE VIRTUAL TABLE parts_fts USING fts5(
    prompt, answer, reasoning, tool, error,
    content = 'part_search', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER parts_fts_insert AFTER INSERT ON parts WHEN {_V1_INDEXED.format(p="new")} BEGIN
    INSERT INTO parts_fts (rowid, prompt, answer, reasoning, tool, error)
        VALUES (new.id, {_V1_COLUMNS.format(p="new")});
END;
CREATE TRIGGER parts_fts_update AFTER UPDATE ON parts BEGIN
    INSERT INTO parts_fts (parts_fts, rowid, prompt, answer, reasoning, tool, error)
        SELECT 'delete', old.id, {_V1_COLUMNS.format(p="old")} WHERE {_V1_INDEXED.format(p="old")};
    INSERT INTO parts_fts (rowid, prompt, answer, reasoning, tool, error)
        SELECT new.id, {_V1_COLUMNS.format(p="new")} WHERE {_V1_INDEXED.format(p="new")};
END;
CREATE TRIGGER parts_fts_delete AFTER DELETE ON parts WHEN {_V1_INDEXED.format(p="old")} BEGIN
    INSERT INTO parts_fts (parts_fts, rowid, prompt, answer, reasoning, tool, error)
        VALUES ('delete', old.id, {_V1_COLUMNS.format(p="old")});
END;
INSERT INTO parts_fts (parts_fts, rank) VALUES ('rank', 'bm25(10.0, 10.0, 4.0, 2.0, 2.0)');
"""

V2 = """
ALTER TABLE attempts ADD COLUMN cost_usd REAL;
ALTER TABLE attempts ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN worktree TEXT;
ALTER TABLE attempts ADD COLUMN branch TEXT;
ALTER TABLE attempts ADD COLUMN diff_added INTEGER;
ALTER TABLE attempts ADD COLUMN diff_removed INTEGER;
ALTER TABLE attempts ADD COLUMN diff_files INTEGER;
ALTER TABLE attempts ADD COLUMN diff TEXT;
ALTER TABLE turns ADD COLUMN cache_read_tokens INTEGER;
ALTER TABLE turns ADD COLUMN cache_write_tokens INTEGER;
"""
"""Running many agents: what each attempt cost (NULL: no price known), the git worktree it worked in
and what it changed there (the final diff and its size), and the prompt-cache tokens of each request."""

V3 = """
ALTER TABLE turns RENAME TO requests;
ALTER TABLE parts RENAME COLUMN turn TO request;
ALTER TABLE tickets RENAME COLUMN max_turns TO max_calls;
UPDATE attempts SET error_kind = 'max_calls' WHERE error_kind = 'max_turns';
"""
"""One name for one thing: a request is one sending of a model call (a retry sends it again), so the
table of them is `requests` and a part's `request` is the one it came in; a ticket's limit counts
model calls (`max_calls`), and so does the error kind of an attempt that reached it. Renaming a
column needs SQLite 3.25 (2018). Recorded text (an error's message) keeps the words it was written
with."""

V4 = """
ALTER TABLE tickets ADD COLUMN auto_approve TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tickets ADD COLUMN auto_approve_all INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN env_passthrough TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tickets ADD COLUMN allow_git_writes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN max_output_chars INTEGER;
ALTER TABLE tickets ADD COLUMN isolation TEXT NOT NULL DEFAULT 'none';
ALTER TABLE tickets ADD COLUMN max_cost_usd REAL;
ALTER TABLE tickets ADD COLUMN fanned_from TEXT;
ALTER TABLE tickets ADD COLUMN line INTEGER;
ALTER TABLE tickets ADD COLUMN mode TEXT;
ALTER TABLE tickets ADD COLUMN every_field INTEGER NOT NULL DEFAULT 0;
UPDATE tickets SET isolation = 'worktree'
    WHERE id IN (SELECT ticket_id FROM attempts WHERE worktree IS NOT NULL);
ALTER TABLE runs ADD COLUMN imported_at REAL;
"""
"""A ticket is recorded whole, so that `lfg resume` runs it as the tickets file said: its approvals,
environment, `.git` writes, limits, isolation, a coding agent's mode, the ticket it is one model of
(`fanned_from`, a Ticket's `group`) and its line. `every_field` is 1 for a row that holds them all;
a row recorded before has only its defaults (a ticket that worked in a worktree is known by its
attempts, and says so). `imported_at` is when `lfg history import` brought a run in from elsewhere
(NULL: recorded here)."""

V5 = """
ALTER TABLE tickets ADD COLUMN mcp_servers TEXT NOT NULL DEFAULT '[]';
"""
"""The MCP servers a coding agent's ticket gave its session, whole (as JSON: each server's transport,
command, arguments, URL, the names of the variables it took values from, its headers as written), so
`lfg resume` gives the same ones. A row recorded before has none, as its ticket had."""

V6 = """
ALTER TABLE attempts ADD COLUMN tokens_per_s_estimated INTEGER NOT NULL DEFAULT 0;
"""
"""Whether an attempt's `tokens_per_s` rests on an estimate (`Metrics.rate_estimated`: lfg's own
count, or a coding agent's count split between what streamed and tool input it sent whole), so the
history shows it with `~` as the gauge did. A row recorded before says 0."""

V7 = """
ALTER TABLE requests ADD COLUMN tokens_per_char REAL;
"""
"""What lfg counted a character of a request's output as until the provider reported its count
(`RequestSent.tokens_per_char`), so a request that never reported one is estimated as it was live.
A row recorded before says NULL: a quarter token, as lfg counted then (but chunk by chunk)."""

V8 = """
CREATE TABLE landings (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    landed_at REAL NOT NULL,
    repo TEXT NOT NULL,
    branch TEXT NOT NULL,
    base_branch TEXT NOT NULL,
    strategy TEXT NOT NULL,
    base_before TEXT NOT NULL,
    landed_commit TEXT NOT NULL,
    remote TEXT,
    pull_request TEXT
);
CREATE INDEX landings_ticket ON landings(ticket_id);
"""
"""What `lfg land` landed where: a ticket's worktree branch brought onto `base_branch` of `repo` by
`strategy` (squash, merge, rebase), `base_before` the base's commit before and `landed_commit` the
one the base (or, with `--pr`, the pushed branch) points at after; `remote` the remote pushed to and
`pull_request` the address `gh pr create` gave (NULL: landed locally, or no pull request opened).
A ticket may be landed more than once (a follow-up after a landing): one row each."""

V9 = """
ALTER TABLE tickets ADD COLUMN check_command TEXT;
ALTER TABLE tickets ADD COLUMN check_timeout_s REAL;
"""
"""A tournament contestant's `check` (the command run in its worktree once it completes) and its
timeout, so `lfg resume` checks a contestant run again as the file said. A row recorded before has
none, as its ticket had."""

V10 = """
ALTER TABLE tickets ADD COLUMN fallback TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tickets ADD COLUMN max_wait_s REAL;
"""
"""A ticket's failover chain (`fallback`, each link "provider/model") and how long it waits for a
rate-limited provider before it moves on (`max_wait_s`), so `lfg resume` runs it with the same. Each
attempt's row already says which provider and model it ran on. A row recorded before has no
fallback, as its ticket had, and NULL: the default wait."""

V11 = """
ALTER TABLE attempts ADD COLUMN waited_s REAL;
"""
"""How long the attempt waited for the person (alerts/states.py `NEEDS_YOU`): its permission requests
open, and a turn that ended on a question until the follow-up that answered it. A row recorded
before says NULL: not measured."""

V12 = """
CREATE TABLE checks (
    attempt_id TEXT PRIMARY KEY REFERENCES attempts(id) ON DELETE CASCADE,
    command TEXT NOT NULL,
    passed INTEGER NOT NULL,
    output TEXT NOT NULL,
    tests_passed INTEGER,
    tests_failed INTEGER,
    tests_errors INTEGER,
    tests_skipped INTEGER,
    checked_ms REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tournament TEXT NOT NULL,
    decided_at REAL NOT NULL,
    winner TEXT,
    judge TEXT,
    ranking TEXT NOT NULL
);
CREATE INDEX verdicts_run ON verdicts(run_id, tournament);

ALTER TABLE tickets ADD COLUMN synthesis_of TEXT;
"""
"""A tournament as it was decided: each contestant's `check` (one per checked attempt: the command,
whether it passed, its output as kept, the test counts read from it, NULL when it had no summary,
and when it ended in ms since the attempt started, so it took `checked_ms - ended_ms`), and each
verdict: the tournament (the fanned-out ticket's id), when it was decided, the winner's ticket id
(NULL: nobody passed), who ranked (NULL: the rule) and the ranking, best first, as JSON
`[{"ticket", "attempt", "reasons": [...]}]`. A tournament decided again (a contestant's follow-up)
has a verdict row each time; the latest is its verdict. A ticket the verdict's synthesis key started
in the run says which tournament it synthesizes (`synthesis_of`). A file recorded before has none."""


V13 = """
ALTER TABLE tickets ADD COLUMN judges TEXT;
ALTER TABLE verdicts ADD COLUMN judge_error TEXT;
"""
"""For a tournament's judge (`ID@judge`): the tournament it ranks, so `lfg resume` holds it until its
contestants are done again, as the run did. A row recorded before has NULL: not a judge. A verdict
whose judge failed says why (`judge_error`; its ranking is then the rule's), and each place of a
judged ranking has the `label` the judge saw it under."""

V14 = """
ALTER TABLE tickets ADD COLUMN forked_from TEXT;
ALTER TABLE tickets ADD COLUMN forked_attempt INTEGER;
"""
"""A fork (run/fork.py): the ticket of the same run (`forked_from`) and its attempt
(`forked_attempt`) whose conversation it started from, so `lfg resume` and a follow-up continue
that conversation, and the pane says so. A row recorded before says NULL: not a fork."""


_V15_SENT = "{p}.sent_at IS NOT NULL"

V15 = f"""
CREATE TABLE review_comments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    key TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    end_line INTEGER,
    side TEXT NOT NULL DEFAULT 'new' CHECK (side IN ('new', 'old')),
    quote TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL,
    sent_attempt INTEGER
);
CREATE INDEX review_comments_ticket ON review_comments(ticket_id);

CREATE VIRTUAL TABLE review_fts USING fts5(
    body, path, quote,
    content = 'review_comments', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER review_fts_insert AFTER INSERT ON review_comments WHEN {_V15_SENT.format(p="new")} BEGIN
    INSERT INTO review_fts (rowid, body, path, quote) VALUES (new.id, new.body, new.path, new.quote);
END;
CREATE TRIGGER review_fts_update AFTER UPDATE ON review_comments BEGIN
    INSERT INTO review_fts (review_fts, rowid, body, path, quote)
        SELECT 'delete', old.id, old.body, old.path, old.quote WHERE {_V15_SENT.format(p="old")};
    INSERT INTO review_fts (rowid, body, path, quote)
        SELECT new.id, new.body, new.path, new.quote WHERE {_V15_SENT.format(p="new")};
END;
CREATE TRIGGER review_fts_delete AFTER DELETE ON review_comments WHEN {_V15_SENT.format(p="old")} BEGIN
    INSERT INTO review_fts (review_fts, rowid, body, path, quote)
        VALUES ('delete', old.id, old.body, old.path, old.quote);
END;
INSERT INTO review_fts (review_fts, rank) VALUES ('rank', 'bm25(10.0, 2.0, 2.0)');
"""
"""Review comments on a ticket's diff (docs/guides/review.md): drafts (`sent_at` NULL) kept until
they are sent, so closing the review screen or `lfg resume` loses none, and sent ones, which
`review_fts` indexes (the comment weighs most) and `lfg history search` finds under the attempt that
answered them (`sent_attempt`). `key` names a comment across edits and exports; `line` (to `end_line`
for a hunk) is numbered in the new file, or the old one for a removed line (`side`); `quote` is the
diff lines it is about as they were when it was written."""


V16 = """
ALTER TABLE tickets ADD COLUMN on_quota TEXT;
"""
"""What a ticket does when its provider's quota is spent (`on_quota`: "wait", "fallback" or
"pause"), so `lfg resume` runs it with the same. A row recorded before says NULL: "wait", as every
ticket did then."""

V17 = """
ALTER TABLE requests ADD COLUMN models TEXT;
"""
"""How a request's reported counts split by the model that answered, when a coding agent says
(Gemini CLI's `model_usage`): a JSON list of `{"model", "input_tokens", "output_tokens"}`, so that a
resumed or exported attempt prices each part as the live one did. NULL: the request's own model."""

V18 = """
ALTER TABLE tickets ADD COLUMN judge_max_chars INTEGER;
"""
"""The most characters of a tournament's judge prompt (`judge_max_chars`), so `lfg resume` asks its
judge within the same cap. A row recorded before says NULL: the default, as every judge had then."""

V19 = """
CREATE TABLE part_tails (
    id INTEGER PRIMARY KEY,
    part_id INTEGER NOT NULL REFERENCES parts(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    chunks BLOB NOT NULL
);
CREATE INDEX part_tails_part ON part_tails(part_id, id);
"""
"""What a streaming part gained since its row was written, one row per batch (`id` orders them), so
that a batch appends what it added and never rewrites the part's text: a part's row is its first
batch's until it is sealed, when its tails are folded into it (one write of the whole text) and
deleted. A reader adds an unsealed part's tails to its text and chunks (`rows.read_parts`). A file
recorded before has none: its parts hold all their text."""

V20 = """
ALTER TABLE requests ADD COLUMN counted_chars INTEGER;
UPDATE requests SET counted_chars = CAST(round(estimated_tokens / coalesce(tokens_per_char, 0.25)) AS INTEGER)
WHERE output_tokens > 0 AND estimated_tokens > 0;
"""
"""The characters a request's reported count holds, by lfg's account (`RequestMetrics.counted_chars`:
its output's, and any tool input an agent sent whole), so that the history's calibration
(history/calibration.py) reads a model's tokens per character from counts whose characters are
known. NULL when the count holds input lfg never saw (a call Codex or Gemini CLI showed only as its
account of it), or reported none. A row recorded before gets its estimate's characters, as the
calibration read them then."""

V21 = """
ALTER TABLE requests ADD COLUMN counted_per_char REAL;
"""
"""What lfg's calibration said a character of a request's output is worth when a coding agent's
count came (`Usage.tokens_per_char`), which a count holding input lfg never saw is rated with, so a
resumed pane rates it as the live one did. NULL when the count came with none (a model API's, or
nothing calibrated yet); a row recorded before says NULL: rated with `tokens_per_char`, as it was."""

V22 = """
ALTER TABLE requests ADD COLUMN turn_wire TEXT;
ALTER TABLE requests ADD COLUMN turn_source TEXT;
ALTER TABLE requests ADD COLUMN turn_body TEXT;
"""
"""A model call's whole output as its provider said it, when it holds reasoning state the next call
must send back verbatim (`CallEnded.turn`, turns.py): the wire that can send it, the
`provider/model` that said it, and the body (JSON). So a follow-up, a fork, a review's `--send` or a
resumed run sends it back as the live attempt would have. NULL when the visible text and tool calls
say it all, as for every row recorded before."""

V23 = """
ALTER TABLE tickets ADD COLUMN effort TEXT;
ALTER TABLE tickets ADD COLUMN thinking TEXT;
ALTER TABLE tickets ADD COLUMN show_thinking INTEGER;
"""
"""A ticket's own reasoning settings (`effort`, `thinking`, `show_thinking`), so `lfg resume` asks
its model as the run did; its provider's come from the config, as every provider setting does. NULL:
not set, as for every row recorded before."""

V24 = """
ALTER TABLE requests ADD COLUMN output_unseen INTEGER NOT NULL DEFAULT 0;
"""
"""Whether a request's output count holds output that never streamed, how much unsaid
(`Usage.output_unseen`: a Claude model's thinking, shown summarised or not at all), so a resumed
pane rates it as the live one did and the calibration never learns from it. 0 for every row
recorded before, as they were rated then."""

V25 = """
ALTER TABLE tickets ADD COLUMN resume_session TEXT;
"""
"""The coding agent's own session a ticket continues (`resume_session`: one it started elsewhere,
as `lfg agents sessions` lists them), so `lfg resume` continues the same one. NULL: a new session,
as for every row recorded before."""

V26 = """
ALTER TABLE tickets ADD COLUMN additional_directories TEXT NOT NULL DEFAULT '[]';
"""
"""The folders beside its workdir a ticket's coding agent may work in (`additional_directories`,
ACP's additional workspace roots), so `lfg resume` gives them again. `[]` for every row recorded
before, which had none."""

V27 = """
ALTER TABLE tickets ADD COLUMN setup TEXT;
ALTER TABLE tickets ADD COLUMN sandbox TEXT NOT NULL DEFAULT 'none';
ALTER TABLE tickets ADD COLUMN sandbox_network INTEGER NOT NULL DEFAULT 1;
"""
"""The command a ticket runs once in a new worktree before its work (`setup`), so `lfg resume` runs
it in a worktree made anew (NULL: none), and the sandbox its processes ran in (`sandbox`, whether
its commands had the network), so a resumed ticket runs in the same one. Every row recorded before
had no setup and no sandbox."""

V28 = """
ALTER TABLE tickets ADD COLUMN sandbox_home TEXT NOT NULL DEFAULT 'no-secrets';
ALTER TABLE tickets ADD COLUMN sandbox_readable TEXT NOT NULL DEFAULT '[]';
"""
"""What a ticket's sandbox hides of the person's home (`sandbox_home`) and the folders it still
reads there (`sandbox_readable`), so a resumed ticket's sandbox hides the same. A row recorded
before gets the default of now, `'no-secrets'`: resumed, its sandbox hides the home's secrets."""

V29 = """
ALTER TABLE tickets ADD COLUMN forked_turn INTEGER;
"""
"""A fork cut at an earlier turn (`lfg fork --at N`): the user turn of its parent's conversation it
went on after, so `lfg resume`, a retry and a follow-up of it continue that cut conversation. NULL:
after the whole conversation, as every fork recorded before did."""

V30 = """
CREATE TABLE subagent_texts (
    id INTEGER PRIMARY KEY,
    attempt_id TEXT NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    child TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX subagent_texts_attempt ON subagent_texts(attempt_id, id);
"""
"""A coding agent's sub-agents' own words (`SubagentDelta`), which are never the parent's answer:
what each batch added to a child's text is a row (`child` its session id), in the order they came,
so a batch never rewrites the text before it; a child's whole text is its rows joined. The child's
task, state and tokens stay its record's notes (notes.py). No rows for any run recorded before,
which did not keep them."""

V31 = """
ALTER TABLE subagent_texts ADD COLUMN seq INTEGER;
ALTER TABLE subagent_texts ADD COLUMN t_ms REAL;
ALTER TABLE subagent_texts ADD COLUMN chunks BLOB NOT NULL DEFAULT x'';
ALTER TABLE subagent_texts ADD COLUMN lead TEXT NOT NULL DEFAULT '';

CREATE TEMP TABLE v31_said AS
    SELECT DISTINCT min(id) OVER child AS id, attempt_id, child, group_concat(text, '') OVER child AS text
    FROM subagent_texts
    WINDOW child AS (
        PARTITION BY attempt_id, child ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    );
DELETE FROM subagent_texts;
INSERT INTO subagent_texts (id, attempt_id, child, text) SELECT id, attempt_id, child, text FROM v31_said;
DROP TABLE v31_said;

CREATE VIEW subagent_search (id, text) AS SELECT id, lead || text FROM subagent_texts;
CREATE VIRTUAL TABLE subagent_fts USING fts5(
    text,
    content = 'subagent_search', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER subagent_fts_insert AFTER INSERT ON subagent_texts BEGIN
    INSERT INTO subagent_fts (rowid, text) VALUES (new.id, new.lead || new.text);
END;
CREATE TRIGGER subagent_fts_update AFTER UPDATE ON subagent_texts BEGIN
    INSERT INTO subagent_fts (subagent_fts, rowid, text) VALUES ('delete', old.id, old.lead || old.text);
    INSERT INTO subagent_fts (rowid, text) VALUES (new.id, new.lead || new.text);
END;
CREATE TRIGGER subagent_fts_delete AFTER DELETE ON subagent_texts BEGIN
    INSERT INTO subagent_fts (subagent_fts, rowid, text) VALUES ('delete', old.id, old.lead || old.text);
END;
INSERT INTO subagent_fts (subagent_fts) VALUES ('rebuild');
INSERT INTO subagent_fts (subagent_fts, rank) VALUES ('rank', 'bm25(4.0)');
"""
"""A sub-agent's words replayed and searched. Each row (a run of one child's deltas that a batch
wrote, no other event of its attempt between them) now says when they came, as a part does: `seq`
the sequence number of its first `SubagentDelta`, `t_ms` its time, `chunks` each delta's arrival,
so a rebuilt pane gets them back at their place and pace. `subagent_fts` indexes each row as it is
written (the triggers; never per token), with `lead`: the child's last words before the row (at most
`rows.LEAD_CHARS`, from a word's start), so a word a batch's end cut in two is found whole in the
row after; bm25 weighs it as reasoning (4). The rows recorded before (migration 30, no times) are
folded into one row per child, its text theirs joined in order, and indexed whole; they come back
after the child's last record note (`rebuild.py`)."""

V32 = """
ALTER TABLE tickets ADD COLUMN lead INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN lead_max_live INTEGER;
ALTER TABLE tickets ADD COLUMN lead_max_added INTEGER;
"""
"""Whether a coding-agent ticket leads (`lead`: lfg's MCP server in its session, remote/leads.py) and
its caps on the tickets it adds, so `lfg resume` runs a lead as a lead. A row recorded before says 0
and NULL: no lead, as none was then."""

V33 = """
ALTER TABLE tickets ADD COLUMN added_by_lead TEXT;
"""
"""For a ticket a lead added as the run ran (an add-ticket through its token): that lead's id, so `lfg
resume` gives the lead its tickets from before as its own (`Run.parents`: it may reach them, its caps
count them, they stop with it). A row recorded before says NULL: no lead added it, as none could."""

V34 = """
ALTER TABLE runs ADD COLUMN ticket_defaults TEXT;
"""
"""The run's `[defaults]` table as its tickets file wrote it (JSON), so a ticket added to the run after
`lfg resume` (add-ticket: the person's, or a resumed lead's) is checked under the defaults the run's own
tickets took, not under no defaults or under a file edited since. A run recorded before says NULL: a
resumed run of it takes no new tickets, as before."""

V35 = """
ALTER TABLE tickets ADD COLUMN lead_max_per_minute INTEGER;
ALTER TABLE tickets ADD COLUMN lead_budget_usd REAL;
"""
"""A lead's rate of adds and messages and its budget for itself and the tickets it adds, so `lfg
resume` holds a lead to them again. A row recorded before says NULL: the default rate, no budget, as
then."""

V36 = """
ALTER TABLE tickets ADD COLUMN sandbox_memory_mb INTEGER;
ALTER TABLE tickets ADD COLUMN sandbox_processes INTEGER;
ALTER TABLE tickets ADD COLUMN sandbox_cpus REAL;
ALTER TABLE tickets ADD COLUMN sandbox_tmp_mb INTEGER;
"""
"""A ticket's box's bounds (tools/box_limits.py), so `lfg resume` bounds its box the same. A row
recorded before says NULL: the machine's defaults, the bounds every box has now."""

MIGRATIONS: tuple[str, ...] = (
    V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22,
    V23, V24, V25, V26, V27, V28, V29, V30, V31, V32, V33, V34, V35, V36,
)  # fmt: skip
"""Migration N (1-based) brings a file from `user_version` N-1 to N."""
