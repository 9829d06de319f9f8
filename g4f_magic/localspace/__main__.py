"""``python -m g4f_magic.localspace --port N``: serve the local Space until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .app import LocalSpace, Pace, serve

# the client's G4F_MAGIC_ENDPOINT, named here: the Space shares no code with the client (tests compare them)
CLIENT_ENV_VAR = "G4F_MAGIC_ENDPOINT"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    return serve_until_stopped(space_for(args), args.host, args.port)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m g4f_magic.localspace",
        description="A local stand-in for the Hugging Face hub and the FLUX / Janus Spaces (not a model).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port; 0 picks a free one (default 7860)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every request")
    parser.add_argument("--fast", action="store_true",
                        help="the tests' pace: no queue, a progress message every 7 steps, two previews "
                             "(default: a real Space's, a few seconds queued and about 4 s of sampling)")
    parser.add_argument("--step-delay-ms", type=float, default=None,
                        help="delay after each progress message (default 150, or 5 with --fast)")
    parser.add_argument("--queue-ms", type=float, default=None,
                        help="time each run waits in the queue (default 2400, or 0 with --fast)")
    return parser.parse_args(argv)


def space_for(args: argparse.Namespace) -> LocalSpace:
    pace = Pace.fast() if args.fast else Pace()
    if args.step_delay_ms is not None:
        pace.step = args.step_delay_ms / 1000
    if args.queue_ms is not None:
        pace.queue = args.queue_ms / 1000
    return LocalSpace(latency=args.latency_ms / 1000, pace=pace)


def serve_until_stopped(space: LocalSpace, host: str, port: int) -> int:
    """Serve ``space`` until Ctrl+C or SIGTERM; 1 with one line when the port cannot be had."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        server = serve(space, host, port)
        url = await server.__anext__()
        print(f"Local Space (a stand-in, not a model) serving on {url}", flush=True)
        print(f"Point g4f_magic at it with: export {CLIENT_ENV_VAR}={url}", flush=True)
        try:
            await stop.wait()
        finally:
            await server.aclose()

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"localspace: cannot serve on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
