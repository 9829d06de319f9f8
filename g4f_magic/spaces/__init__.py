"""These Spaces on Hugging Face: the models and what each takes, endpoints and gateways, mirrors,
identity and ZeroGPU tokens, quota refusals, the wire flows, and the g4f-compatible providers."""
