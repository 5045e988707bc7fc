"""Tickets: the agents one `lfg run` starts.

- `ticket`: `Ticket` and `TicketFile`, what the rest of lfg sees of a loaded file, their defaults,
  and a prompt with its dependencies' answers filled in (`render_prompt`); light to import;
- `load`: tickets.toml read and checked as a whole (`load_tickets`), every problem with its file,
  line, ticket and field;
- `fanout`: a ticket with `models = [...]` as one ticket per model (`ID@model`).

Importing the package imports none of them: what only names a `Ticket` does not load the checks.
"""
