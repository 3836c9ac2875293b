"""Run the benchmarks: ``python -m tests.bench [NAME ...]``.

Each ``bench_*.py`` module beside this file has a ``main() -> None`` that measures its subject
and a baseline in the same run and prints the ratio. With names, only those modules run
(``python -m tests.bench twiml signatures``); a ``-`` in a name stands for ``_``
(``python -m tests.bench studio-api``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [f"bench_{name.removeprefix('bench_').replace('-', '_')}" for name in argv]
    unknown = [name for name in wanted if name not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
        return 2
    for name in wanted or names:
        print(f"== {name.removeprefix('bench_')} ==", flush=True)
        importlib.import_module(f"tests.bench.{name}").main()
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
