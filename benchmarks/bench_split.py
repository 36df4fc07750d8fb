"""``split_chunks`` (agent/log_track.py) on one big read, against the copy-the-rest version it
replaced (kept here as the reference): ``.venv/bin/python -m benchmarks.bench_split [MiB ...]``.

In-process, no hub or daemon; prints the best of 3 per size. The old version copied the rest of
the buffer for every 64 KiB chunk (quadratic); the current one slices each chunk once (linear)."""

from __future__ import annotations

import sys
import time

from orchestratia.agent.log_track import split_chunks
from orchestratia.protocol import MAX_OUTPUT_CHUNK_BYTES, utf8_safe_cut

LINE = "%09d the quick brown fox — jumps over the lazy dog ✓ 日本 🎉\n"


def split_chunks_copying(data: bytes, offset: int, max_bytes: int = MAX_OUTPUT_CHUNK_BYTES) -> list[tuple[int, bytes]]:
    """The version before: ``rest = data[pos:]`` for every chunk."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        rest = data[pos:]
        n = utf8_safe_cut(rest, max_bytes) or min(max_bytes, len(rest))
        out.append((offset + pos, rest[:n]))
        pos += n
    return out


def sample(mib: int) -> bytes:
    line = (LINE % 1).encode()
    return (line * (mib * 1024 * 1024 // len(line) + 1))[: mib * 1024 * 1024]


def best_ms(fn, data: bytes, repeat: int = 3) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(data, 0)
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [4, 16, 64]
    print(f"{'size':>8} {'chunks':>7} {'copying (before)':>17} {'split_chunks (now)':>19}")
    for mib in sizes:
        data = sample(mib)
        new = split_chunks(data, 0)
        assert new == split_chunks_copying(data, 0), "the two versions disagree"
        old_ms = best_ms(split_chunks_copying, data, repeat=1 if mib > 16 else 3)
        print(f"{mib:>5} MiB {len(new):>7} {old_ms:>14.1f} ms {best_ms(split_chunks, data):>16.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
