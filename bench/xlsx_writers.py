"""The XLSX writers side by side (issue 22: XLSX 100k rows in 15 s): Kaopu's own
(crm.exports.xlsx_file), XlsxWriter in constant_memory mode and openpyxl in write-only mode,
each writing the same lead-like rows from memory (no database), so what differs is the writer.

    python bench/xlsx_writers.py                       # 100,000 rows, every writer, 3 rounds
    python bench/xlsx_writers.py --rows 5000,100000 --writers kaopu
    PYTHONPATH=/tmp/xlsxwriter python bench/xlsx_writers.py   # XlsxWriter is no dependency

Each (writer, size) runs in a fresh process, rounds interleaved across writers; a figure is
the median of the rounds (wall and CPU seconds) with the process's peak RSS. "rows" is the rows
made and thrown away: what every writer's figure includes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def lead_rows(count: int) -> Iterator[list[Any]]:
    """22 cells as crm.exports.rows makes them: texts, a Decimal, dates, local times, gaps."""
    start = dt.datetime(2025, 1, 1, 9, 30, 12)
    for i in range(count):
        yield [
            i + 1,
            f"北京华润科技{i}有限公司",
            "王小明",
            "+86 138 0013 8000",
            f"buyer{i}@example.cn",
            "展会",
            Decimal("123456.78") if i % 3 else None,
            "CNY",
            "谈判",
            "李四",
            "华东一组",
            dt.date(2026, 3, 5) if i % 2 else None,
            None,
            "Rival Co" if i % 5 == 0 else "",
            "Send the quote",
            dt.date(2026, 2, 13),
            "否",
            "",
            "Notes about this lead, 联系过两次" if i % 4 == 0 else "",
            start + dt.timedelta(minutes=i),
            start + dt.timedelta(minutes=2 * i),
            start if i % 2 else None,
        ]


HEAD = [f"Column {i}" for i in range(22)]


def write_rows(count: int) -> int:
    return sum(1 for _ in lead_rows(count))


def write_kaopu(count: int) -> int:
    from crm import exports

    with exports.xlsx_file(lead_rows(count), HEAD, "Leads") as handle:
        return handle.seek(0, 2)


def write_xlsxwriter(count: int) -> int:
    import xlsxwriter  # type: ignore[import-not-found]

    with tempfile.TemporaryFile() as handle:
        options = {"constant_memory": True, "strings_to_formulas": False, "tmpdir": "/tmp"}
        options |= {"strings_to_numbers": False, "strings_to_urls": False}
        book = xlsxwriter.Workbook(handle, options)
        sheet = book.add_worksheet("Leads")
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for column, name in enumerate(HEAD):
            sheet.write_string(0, column, name)
        text, number, date = sheet.write_string, sheet.write_number, sheet.write_datetime
        for row, cells in enumerate(lead_rows(count), 1):
            for column, value in enumerate(cells):
                kind = type(value)
                if kind is str:
                    if value:
                        text(row, column, value)
                elif value is None:
                    continue
                elif kind is dt.datetime:
                    date(row, column, value, moment)
                elif kind is dt.date:
                    date(row, column, value, day)
                else:
                    number(row, column, value)
        book.close()
        return handle.seek(0, 2)


def write_openpyxl(count: int) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title="Leads")

    def cell(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = WriteOnlyCell(sheet, value=value)
        text.data_type = "s"
        return text

    sheet.append(HEAD)
    for cells in lead_rows(count):
        sheet.append([cell(value) for value in cells])
    with tempfile.TemporaryFile() as handle:
        book.save(handle)
        return handle.seek(0, 2)


WRITERS = {
    "rows": write_rows,
    "kaopu": write_kaopu,
    "xlsxwriter": write_xlsxwriter,
    "openpyxl": write_openpyxl,
}


def one(writer: str, count: int) -> dict[str, float]:
    """In this process: one writer, one size."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    wall, cpu = time.perf_counter(), time.process_time()
    size = WRITERS[writer](count)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "mb": size / 2**20,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000")
    parser.add_argument("--writers", default="rows,kaopu,xlsxwriter,openpyxl")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        writer, count = args.one.split(":")
        print(json.dumps(one(writer, int(count))))
        return
    sizes = [int(n) for n in args.rows.split(",")]
    writers = [w for w in args.writers.split(",") if w]
    runs: dict[tuple[str, int], list[dict[str, float]]] = {
        (w, n): [] for w in writers for n in sizes
    }
    for _ in range(args.rounds):
        for count in sizes:
            for writer in writers:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", f"{writer}:{count}"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode:
                    print(f"{writer} {count}: {done.stderr.strip().splitlines()[-1]}")
                    continue
                runs[(writer, count)].append(json.loads(done.stdout))
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(
        f"{'writer':<11} {'rows':>8} {'wall s':>7} {'spread':>13} {'CPU s':>6} "
        f"{'MB':>5} {'RSS MB':>7}"
    )
    for (writer, count), got in runs.items():
        if not got:
            continue
        walls = [g["wall"] for g in got]
        print(
            f"{writer:<11} {count:>8,} {statistics.median(walls):>7.2f} "
            f"{min(walls):>6.2f}–{max(walls):<6.2f} "
            f"{statistics.median(g['cpu'] for g in got):>6.2f} "
            f"{got[0]['mb']:>5.1f} {max(g['rss'] for g in got):>7.1f}"
        )


if __name__ == "__main__":
    main()
