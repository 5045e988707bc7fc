"""Watching a run from elsewhere: its events over HTTP (Server-Sent Events)."""
