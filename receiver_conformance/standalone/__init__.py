"""A control plane and a node kept running in the background for manual use: the
`cluster up|down|env` and `node up|down|env` commands."""
