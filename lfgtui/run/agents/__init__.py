"""Coding agents that speak the Agent Client Protocol (ACP) as tickets.

An ACP agent (Claude Code, Codex, Gemini CLI, goose, lfg's own `lfg sim acp`) is a process that
speaks JSON-RPC over its stdin and stdout. Zed's SDK (`acp`) does the JSON-RPC; lfg owns the pipes
(`transport.py`), what the agent may ask of lfg (`client.py`), how its updates become lfg's events
(`updates.py`), an agent's question to the person as a form (`elicitation.py`), the session's verbs
(`session/`, composed into `AgentSession`) and one attempt (`attempt.py`, started as `launch.py` says).
"""
