"""Runs on a Redis Streams broker (Redis or Valkey), for watching many machines (docs/fleet.md).

Which broker and how to reach it is `config/broker.py` (the input layer); `layout.py` is the keys
a run has there, `client.py` the connection and what its failures mean to a person,
`publisher.py` the sink that publishes a run's events, `watch.py` following a run, `fleet_index.py`
reading the run index and the workers online. Only `client.py` and what uses it import redis-py
(the `lfgtui[broker]` extra).
"""
