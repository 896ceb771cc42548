"""Where the scenarios run: embedded control plane, kind cluster, or an external receiver."""
