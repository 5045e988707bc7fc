"""The ACP registry: its index of agents (fetched, cached, or the bundled snapshot), installing one
of its distributions into lfg's data folder, and the record of where each installed agent came from.

What the registry says is untrusted: its names and descriptions are shown inert, nothing it names is
run before the person has seen the exact command and accepted it, and an archive never writes
outside the agent's own folder.
"""
