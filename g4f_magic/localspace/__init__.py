"""The local Space: hub, Janus, FLUX.1-dev and /run/predict on loopback, with fault injection."""

from .app import FAULTS, LocalSpace, Received, in_thread, serve

__all__ = ["LocalSpace", "FAULTS", "Received", "serve", "in_thread"]
