"""Child process for the crash test: writes sessions forever, printing each id once its
write is acknowledged (``ACK <id>``), many writes in flight at any time."""

from __future__ import annotations

import asyncio
import sys

from icewatch.store import open_store
from tests.store.samples import full_session, verdict


async def main(url: str) -> None:
    store = await open_store(url)
    print("READY", flush=True)

    async def one(i: int) -> None:
        sid = f"s{i:07d}"
        await store.create_session(full_session(sid, 1000.0 + i), 9e9)
        await store.save_result(full_session(sid, 1000.0 + i), verdict())
        sys.stdout.write(f"ACK {sid}\n")
        sys.stdout.flush()

    i = 0
    while True:  # until killed
        await asyncio.gather(*(one(i + k) for k in range(32)))
        i += 32


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
