"""The Textual interface: a live grid of ticket panes."""
