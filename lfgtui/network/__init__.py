"""What lfg reads from the network for itself (not a model's or an agent's traffic): a download within
limits, a public JSON document kept in lfg's cache with its date (the ACP registry's index, the model
catalogue), and the proxy and certificate variables a program needs to reach anything from behind a
proxy. Below both the registry and the providers, which each read one such document."""
