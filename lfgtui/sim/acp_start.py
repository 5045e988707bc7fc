"""The sim agent's process before it imports the ACP SDK, whose import is most of its start.

An agent process starts for every coding-agent attempt a test runs, and `acp.schema` is ~280 pydantic
models made in one go. Three costs of making them are no use to the agent (issue #77):

- the cycle collector's passes over them as they pile up: off until the agent's `main`, which freezes
  what the start made (never scanned again) and turns it back on;
- each class's source read and parsed for its attributes' docstrings (the SDK sets
  `use_attribute_docstrings`): they become descriptions only a JSON schema shows, and the agent
  makes none;
- each model's validator and serializer built at import: built when the model is first used
  (pydantic's `defer_build`), as the agent uses a few dozen.

Only in the agent's own process (`python -m lfgtui.sim.acp_agent`, `lfg sim acp`): what a model
validates and dumps is the same either way.
"""

from __future__ import annotations

import gc


def start_lightly() -> None:
    """Make the SDK's models without what the agent never uses; call before importing it."""
    gc.disable()
    import pydantic
    from pydantic._internal import _fields

    _fields.extract_docstrings_from_cls = lambda cls, use_inspect=False: {}  # no descriptions
    pydantic.BaseModel.model_config["defer_build"] = True  # models made from here on inherit it
