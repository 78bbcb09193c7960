"""What one write to each of 1,000 sockets costs, round after round, by the pause between rounds.

``python bench/micro/idle_writes.py [GAP_SECONDS ...]`` (the project's .venv; default 0.01
0.05 0.15): the same loopback setup as writev.py (a reader process on the other core), 100
rounds of one 3.4 KB write per connection, GAP seconds apart; prints each round's CPU time in
ms. Why: in the benchmark's latency phase the first update is the slowest in every row, and
the same write costs more after a pause than in a steady stream on this machine.
"""

import sys

import uvloop
import writev

ROUNDS = 100


async def main(gaps: list[float]) -> None:
    for gap in gaps:
        spent = await writev.timed_rounds(ROUNDS, gap)
        print(f"gap {gap:.2f} s: " + " ".join(f"{ms:.1f}" for ms in spent))


if __name__ == "__main__":
    uvloop.run(main([float(arg) for arg in sys.argv[1:]] or [0.01, 0.05, 0.15]))
