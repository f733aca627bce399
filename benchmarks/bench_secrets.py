"""Secret-classifier benchmark: hostile 1 MiB values and names as ratios, measured in one process.

For each input shape it prints the time of one 1 MiB classification against a 1 MiB benign
value (`x` repeated), and against eight 128 KiB inputs of the same shape (near 1 when the work
is linear in size; the backtracking classifier this replaced gave 8 and more).

    python -m benchmarks.bench_secrets
"""

from __future__ import annotations

import argparse
import time

from scanner.secrets import classify

MIB = 1 << 20
VALUES = ("Server=", "a=", "a;", " ", "eyJ", "-----BEGIN ", "://", "a://b:c", "AccountKey=", "{", "x")
NAMES = ("aB", "_", "KEY_", "x")


def _grow(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _cost(name: str, value: str, calls: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            classify(name, value)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    benign = _cost("DB_PASSWORD", _grow("x", MIB), 1)
    print(f"{'input':>24}  {'vs benign 1 MiB':>15}  {'1 MiB / 8x128 KiB':>17}")
    for unit in VALUES:
        large = _cost("DB_PASSWORD", _grow(unit, MIB), 1)
        small = _cost("DB_PASSWORD", _grow(unit, MIB // 8), 8)
        print(f"{'value ' + repr(unit):>24}  {large / benign:15.2f}  {large / small:17.2f}")
    for unit in NAMES:
        large = _cost(_grow(unit, MIB), "Fake-Passw0rd-For-Tests", 1)
        small = _cost(_grow(unit, MIB // 8), "Fake-Passw0rd-For-Tests", 8)
        print(f"{'name ' + repr(unit):>24}  {large / benign:15.2f}  {large / small:17.2f}")


if __name__ == "__main__":
    main()
