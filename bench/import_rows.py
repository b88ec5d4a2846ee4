"""How long importing a spreadsheet of cases takes, de-identification included.

    .venv/bin/python bench/import_rows.py [--rows 1000]

Writes an XLSX of ``--rows`` cases (a patient name, a case summary from the MTS-Dialog
training notes in ../shared/data, a diagnosis and a plan), imports it into a fresh
workspace (`pipeline.import_cases`, as `launch.py import` does), de-identifies every
imported document (`pipeline.deid_documents`, as `deid --all` does), and prints the
seconds for each step and rows per second, with how many planted names were found.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

FIRST = "Olwen Bram Ines Tomasz Aiyana Kwame Linnea Rafael Saoirse Dmitri Yuki Femi Ana Lars Priya".split()
LAST = "Pritchard Oyelaran Vidal Kowalczyk Begay Mensah Holmqvist Quintero Byrne Volkov Tanaka Adeyemi".split()


def summaries() -> list[str]:
    with (SHARED / "mts_dialog" / "MTS-Dialog-TrainingSet.csv").open(encoding="utf-8") as handle:
        texts = [row["section_text"] for row in csv.DictReader(handle) if len(row["section_text"]) > 200]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    import medllm_local  # noqa: F401  (offline guard first)
    from openpyxl import Workbook

    from medllm_local import pipeline

    rng = random.Random(5)
    texts = summaries()
    book = Workbook()
    sheet = book.active
    sheet.append(["Patient", "Case summary", "Final diagnosis", "Plan"])
    names = []
    for row in range(args.rows):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        names.append(name)
        sheet.append([name, f"{name.split()[0]} was seen today. {rng.choice(texts)} [{row}]",
                      rng.choice(["Asthma", "Community-acquired pneumonia", "Migraine", "Gout"]),
                      "Review in two weeks."])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cases.xlsx"
        book.save(path)
        workspace = pipeline.open_workspace(Path(folder) / "ws")
        started = time.perf_counter()
        report = pipeline.import_cases(workspace, [path])
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        deid = pipeline.deid_documents(workspace)
        deid_seconds = time.perf_counter() - started
        planted = re.compile(r"\b(" + "|".join(sorted({p for n in names for p in n.split()})) + r")\b")
        leaked, examples = 0, []
        for row in workspace.query("SELECT deid_file FROM documents WHERE deid_file IS NOT NULL"):
            text = (workspace.root / row["deid_file"]).read_text(encoding="utf-8")
            found = planted.search(text)
            if found:
                leaked += 1
                examples.append(text[max(0, found.start() - 40):found.end() + 40].replace("\n", " "))
    total = import_seconds + deid_seconds
    print(json.dumps({"rows": args.rows, "imported": report.imported, "duplicates": report.duplicates,
                      "import_seconds": round(import_seconds, 1), "deid_seconds": round(deid_seconds, 1),
                      "rows_per_second": round(args.rows / total, 1),
                      "documents_with_a_planted_name_left": leaked, "examples": examples[:5],
                      "deidentified": sum(d.status == "deidentified" for d in deid.documents)}, indent=2))


if __name__ == "__main__":
    main()
