"""What a run's server (remote/server.py) and its watchers (remote/attach.py) agree on, apart from the
server: a watcher imports no aiohttp, so `lfg runs` and a watcher through the broker (broker/watch.py,
which reads the server's events as attach.py does) start without it (issue #74: 2.6 s of imports
before `lfg runs` asked the broker anything)."""

API = "/v1"
HEARTBEAT_S = 15.0
"""A comment this often keeps proxies from closing a quiet stream, and shows a dead watcher."""
WATCHER_HEADER = "LFG-Watcher"
"""Who a watcher says it is (`lfg attach` sends `user@host`); a control action is recorded with it."""
