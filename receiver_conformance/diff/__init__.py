"""`receiver-conformance diff`: two receivers, one control plane, generated traffic.

Hypothesis generates Receivers (`generator.receivers`) and requests (`generator.requests`);
`runner` deploys a pool of Receivers on both sides, sends every request to both, and
`compare` reports where their answers differ; each difference is shrunk by Hypothesis and
written as a Gherkin scenario (`gherkin`).
"""
