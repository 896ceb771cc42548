"""kind clusters made here without a registry: the Docker engine the harness owns
(`engine`), the capability shim its containers start through (`caps`), kind itself built from
its Go module (`binary`), and the probe that says whether this kernel runs kind's node
container at all (`probe`)."""
