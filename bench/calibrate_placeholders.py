"""How far random UUIDs v4 stay from the placeholder thresholds of detect.is_placeholder_uuid.

    .venv/bin/python bench/calibrate_placeholders.py            # 2 million random UUIDs
    .venv/bin/python bench/calibrate_placeholders.py --count 200000

For each measure (distinct digits, Shannon entropy of the digits, entropy of the neighbour steps,
largest share of digits equal to the one a period on) it prints the lowest (or highest) value seen
over the random UUIDs, next to the threshold, and how many random UUIDs were judged placeholders
(the target is 0), then the verdict on hand-typed examples.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pit_guard.detection import detect  # noqa: E402

HAND_TYPED = (
    "00000000-0000-0000-0000-000000000000",
    "abcdabcd-abcd-4bcd-abcd-abcdabcdabcd",
    "fedcba98-7654-3210-fedc-ba9876543210",
    "01234567-89ab-cdef-0123-456789abcdef",
    "a1b2c3d4-a1b2-c3d4-a1b2-c3d4a1b2c3d4",
    "13579bdf-1357-9bdf-1357-9bdf13579bdf",
    "3f2b9c4e-3f2b-9c4e-3f2b-9c4e3f2b9c4e",
    "deadbeef-dead-beef-dead-beefdeadbeef",
    "12345678-1234-1234-1234-123456789012",
)


def measures(text: str):
    values = [int(c, 16) for c in text.replace("-", "")]
    steps = [(b - a) % 16 for a, b in zip(values, values[1:])]
    period = max(sum(1 for i in range(32 - p) if values[i] == values[i + p]) / (32 - p) for p in range(1, 17))
    return len(set(values)), detect.shannon_entropy(values), detect.shannon_entropy(steps), period


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    low = [99.0, 99.0, 99.0]
    high_period = 0.0
    judged = 0
    for _ in range(args.count):
        text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        distinct, digits, steps, period = measures(text)
        low = [min(low[0], distinct), min(low[1], digits), min(low[2], steps)]
        high_period = max(high_period, period)
        judged += detect.is_placeholder_uuid(text)
    print(f"random UUIDs v4: {args.count}, judged placeholders: {judged}")
    print(f"distinct digits   lowest {low[0]:.0f}    threshold < {detect._MIN_DISTINCT_DIGITS}")
    print(f"digit entropy     lowest {low[1]:.2f} threshold < {detect._MIN_DIGIT_ENTROPY}")
    print(f"step entropy      lowest {low[2]:.2f} threshold < {detect._MIN_STEP_ENTROPY}")
    print(f"period match      highest {high_period:.2f} threshold >= {detect._MAX_PERIOD_MATCH}")
    for text in HAND_TYPED:
        print(f"{text}  placeholder={detect.is_placeholder_uuid(text)}  {measures(text)}")


if __name__ == "__main__":
    main()
