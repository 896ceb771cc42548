"""A worker node for the embedded control plane: containerd, kubelet and kube-proxy as plain
processes in a network namespace of their own (`netns`), in a cgroup subtree (`cgroups`),
built from their Go modules (`binaries`), with images built here (`images`), and removed
with everything they made when their owner stops or dies (`reaper`). `cluster` keeps one
running in the background for manual use (`receiver-conformance node up|down|env`).
"""
