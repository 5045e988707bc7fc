"""Helpers the tests share, one module per subject. A test module imports its helpers from here,
never from another test module."""
