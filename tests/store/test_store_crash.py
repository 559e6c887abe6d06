"""Nothing acknowledged is lost when the process holding the store is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from icewatch.store import open_store

from .samples import full_session, verdict

ROOT = Path(__file__).resolve().parents[2]


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_child", url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
    )
    acked: list[str] = []
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        for line in child.stdout:
            acked.append(line.split()[1])
            if len(acked) >= 400:
                break
        # Killed while writes are in flight (the child always has 32 queued).
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
        acked.extend(line.split()[1] for line in rest.splitlines())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert len(acked) >= 400

    async def check() -> list[str]:
        store = await open_store(url)
        missing = []
        for sid in acked:
            got = await store.get_session(sid)
            i = int(sid[1:])
            if (
                got is None
                or got.verdict != verdict()
                or got.evidence != full_session(sid, 1000.0 + i)
            ):
                missing.append(sid)
        await store.close()
        return missing

    assert asyncio.run(check()) == []
