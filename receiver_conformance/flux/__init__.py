"""Flux: the objects the guide works with (`objects`), its controllers built from their Go
modules (`build`) and run as processes against the embedded control plane (`controllers`),
and the `flux` target that runs the scenarios against them (`target`)."""
