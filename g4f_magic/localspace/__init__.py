"""The local Space: hub, Janus, FLUX.1-dev and /run/predict on loopback (faults: tests/support/faultyspace.py)."""

from .app import LocalSpace, Pace, Received, in_thread, serve

__all__ = ["LocalSpace", "Pace", "Received", "serve", "in_thread"]
