#!/usr/bin/env python
"""CSV import benchmark: the largest file an import takes (5,000 rows; files are also capped at 1 MB), checked
and applied inside one request, on PostgreSQL — a new file (every row created), the same file again (every row
unchanged), and a file whose every row is bad (checked, refused, the first 50 problems shown).

    .venv/bin/python bench/csv_bench.py

PostgreSQL database `bench_csv` (created if missing, emptied first). Goal: each well under the web timeout (45 s),
so an import is never applied after the browser gave up.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_csv")
    args = parser.parse_args()
    from bench.common import prepare_database

    prepare_database(args.database)
    from integration.services.config_tables import MAX_ROWS, CsvImportError, legal_entities_import

    good = "code,name,books_org_id,require_review\n" + "".join(
        f"E{n:05d},Entity {n} Ltd,{90000000 + n},false\n" for n in range(MAX_ROWS)
    )
    bad = "code,name,books_org_id,require_review\n" + "x,,y,z\n" * MAX_ROWS
    results = {"rows": MAX_ROWS, "bytes": len(good.encode())}
    for label, content in (("new", good), ("unchanged", good), ("all bad", bad)):
        started = time.perf_counter()
        try:
            legal_entities_import(file=io.StringIO(content, newline=""), source="benchmark")
        except CsvImportError as exc:
            results["errors shown"] = len(exc.errors)
        results[f"{label} s"] = round(time.perf_counter() - started, 2)
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results" / "csv_bench.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
