"""The loopback OpenAI provider of ``bench.stream_latency``, in a process of its own.

    python -m bench.latency_provider --tokens 200 --token-interval-ms 5

Prints its base URL (``http://127.0.0.1:<port>/v1``) on the first line of standard output,
then serves until terminated. ``GET /bench/calls/<n>`` answers the stamps of every call
after the first ``n`` (see :class:`bench.stream_latency.LoopbackOpenAI`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bench.stream_latency import LoopbackOpenAI


async def serve(tokens: int, interval: float) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with LoopbackOpenAI(tokens, interval) as provider:
        print(provider.base_url, flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency_provider")
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--token-interval-ms", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    run(serve(args.tokens, args.token_interval_ms / 1000.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
