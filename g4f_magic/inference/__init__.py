"""Hugging Face Inference Providers: the FLUX models past the free ZeroGPU quota, on the user's own token.

huggingface_hub's ``InferenceClient`` speaks every provider (its routes through Hugging Face's router, its
polling, its reply shapes); this package says which model and which provider, runs the client beside the
event loop, and puts what it answers and refuses in this package's events and errors.
"""

from .client import AUTO, REPOS, SPACES, ProvidersClient

__all__ = ["AUTO", "REPOS", "SPACES", "ProvidersClient"]
