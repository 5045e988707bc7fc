"""The ACP session verbs, a room each, composed into `agent.py` `AgentSession` (one running agent
and its one session):

- `state`: what the session holds, and a failure told in terms of what the agent did;
- `lifecycle`: the agent's process started, and closed again with its session;
- `opening`: `initialize`, logging in, a new, loaded, resumed or forked session, its mode and model;
  the agent's own sessions listed;
- `prompts`: one `session/prompt` per attempt, streamed, its silence watched, its counts read;
- `cancels`: the turn cancelled, or one sub-agent alone.
- `steering`: the person's steers sent into the running turn (`_session/steering`), where the
  agent takes them.
"""
