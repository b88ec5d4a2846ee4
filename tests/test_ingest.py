"""Ingest on real files made by the tests: every format, OCR accuracy, bad input that
fails alone with a clear reason, duplicates, stop and resume, and the CLI contract."""

from __future__ import annotations

import json
import threading
import zipfile

import pytest

from conftest import run_cli
from ingest_fixtures import (HEADER, LEFT_COLUMN, ONE_COLUMN, RIGHT_COLUMN, SCAN_TEXT, SECTIONS,
                             cer, column_layouts_pdf, text_pdf, write_good_corpus, zip_of)
from medllm_local import pipeline
from medllm_local.stages.ingest import read as ingest
from medllm_local.stages.ingest.read import IngestSettings, SourceFile, read_document


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, write_good_corpus(folder)


def read(path, **settings) -> ingest.Document:
    return read_document(SourceFile(str(path), path.read_bytes()), IngestSettings(**settings))


def squash(text: str) -> str:
    return " ".join(text.split())


# -- formats ----------------------------------------------------------------------------
def test_text_pdf_is_read_exactly_from_its_text_layer(corpus):
    document = read(corpus[1]["one-column.pdf"])
    assert [p.method for p in document.pages] == ["text"]
    assert squash(document.text) == squash(" ".join(ONE_COLUMN))


def test_two_column_pdf_keeps_reading_order(corpus):
    text = read(corpus[1]["two-column.pdf"]).text
    assert squash(text) == squash(" ".join(LEFT_COLUMN + RIGHT_COLUMN))


def test_columns_of_any_width_read_left_then_right(tmp_path):
    path = tmp_path / "columns.pdf"
    path.write_bytes(column_layouts_pdf())
    pages = read(path).pages  # header above 60/40 columns; 40/60 columns; one column
    sections = " ".join(f"{heading} {text}" for heading, text in SECTIONS.items())
    assert squash(pages[0].text) == squash(f"{HEADER} {sections}")
    assert squash(pages[1].text) == squash(sections)
    assert squash(pages[2].text) == squash(sections)


def test_mixed_pdf_reads_each_page_its_own_way(corpus):
    document = read(corpus[1]["mixed.pdf"])
    assert [p.method for p in document.pages] == ["text", "ocr"]
    assert squash(document.pages[0].text) == squash(" ".join(ONE_COLUMN))
    assert cer(SCAN_TEXT, document.pages[1].text) < 0.02
    assert document.pages[1].ocr_confidence > 80


@pytest.mark.parametrize("name", ["scanned.pdf", "scan.png", "scan.jpg"])
def test_scans_are_ocred_with_under_two_percent_character_errors(corpus, name):
    document = read(corpus[1][name])
    assert [p.method for p in document.pages] == ["ocr"]
    assert cer(SCAN_TEXT, document.text) < 0.02, document.text
    assert document.warnings == []  # confident enough not to be flagged


def test_multipage_tiff_gives_one_page_per_frame(corpus):
    document = read(corpus[1]["sub/two-pages.tiff"])
    assert len(document.pages) == 2
    assert "Acute gout" in document.pages[0].text
    assert "allopurinol" in document.pages[1].text


def test_docx_keeps_order_and_letterhead_and_footer(corpus):
    text = read(corpus[1]["letter.docx"]).text
    assert text.index("Riverside Test Practice") < text.index("CHIEF COMPLAINT")
    assert text.index("CHIEF COMPLAINT") < text.index("Sputum AFB | Positive")
    assert text.index("Sputum AFB | Positive") < text.index("ASSESSMENT: Pulmonary tuberculosis")
    assert text.rstrip().endswith("Dr. Alex Testwriter, MD - confidential")


@pytest.mark.parametrize("name,expected", [
    ("utf8.txt", "Café visit: naïve patient, 37.5 °C."),
    ("utf16.txt", "Temperatur 38,2 °C – Bronchitis."),
    ("cp1252.txt", "Gastro-entérite aiguë, fièvre à 38,5 °C"),
    ("sub/note.rtf", "ASSESSMENT: Iron deficiency anaemia."),
])
def test_text_encodings_and_rtf(corpus, name, expected):
    assert expected in read(corpus[1][name]).text


def test_low_confidence_pages_are_flagged(corpus):
    document = read(corpus[1]["scan.png"], ocr_flag_confidence=99.9)
    assert document.warnings and "low OCR confidence" in document.warnings[0]


# -- batches, bad input, duplicates ---------------------------------------------------
BAD_FILES = {
    "empty.txt": (b"", "empty file"),
    "corrupt.pdf": (b"%PDF-1.4\n1 0 obj garbage that is not a pdf\n", "corrupt"),
    "locked.pdf": (None, "password-protected PDF"),
    "blank.pdf": (None, "no text found"),
    "program.exe": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff", "unsupported type .exe"),
    "old.doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old Word format"),
    "broken.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "corrupt or unreadable image"),
    "broken.docx": (b"PK\x03\x04word/" + b"\x00" * 50, "corrupt DOCX"),
    "huge.txt": (b"Zebra-canary report text. " * 90_000, "over the 1 MB limit"),
}


@pytest.fixture
def bad_folder(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for name, (data, _) in BAD_FILES.items():
        if name == "locked.pdf":
            data = text_pdf(ONE_COLUMN, encrypt="secret")
        elif name == "blank.pdf":
            data = text_pdf([""])
        (folder / name).write_bytes(data)
    return folder


def by_name(report) -> dict:
    """Each file's result by its name, from an IngestReport or its JSON."""
    documents = report["documents"] if isinstance(report, dict) else report.documents
    source = (lambda item: item["source"]) if isinstance(report, dict) else (lambda item: item.source)
    return {source(item).split("/")[-1].split("!")[-1]: item for item in documents}


def test_bad_files_fail_alone_with_a_named_reason(workspace, corpus, bad_folder):
    first = pipeline.ingest(workspace, [corpus[1]["utf8.txt"]])
    assert first.totals["ok"] == 1
    report = pipeline.ingest(workspace, [bad_folder, corpus[1]["one-column.pdf"]],
                             IngestSettings(max_file_mb=1))
    results = by_name(report)
    for name, (_, reason) in BAD_FILES.items():
        assert results[name].status == "failed", name
        assert reason in results[name].error, (name, results[name].error)
        assert "\n" not in results[name].error
    assert results["one-column.pdf"].status == "ok"  # the batch went on
    assert report.totals == {"ok": 1, "failed": len(BAD_FILES), "duplicate": 0,
                             "files": len(BAD_FILES) + 1}
    # what was stored before is intact, and the failures are listed with their reasons
    assert workspace.document_count() == 2
    assert "naïve" in workspace.load_document(first.documents[0].id).text
    listed = [d for d in workspace.list_documents() if d["status"] == "failed"]
    assert {d["source"].split("/")[-1] for d in listed} == set(BAD_FILES)


def test_errors_never_carry_the_document_text(workspace, bad_folder):
    report = pipeline.ingest(workspace, [bad_folder], IngestSettings(max_file_mb=1))
    errors = " ".join(item.error or "" for item in report.documents)
    assert "over the 1 MB limit" in errors  # the canary file did fail
    assert "Zebra" not in errors and "Heart failure" not in errors


def test_text_starting_like_a_file_signature_is_still_text(workspace, tmp_path):
    note = tmp_path / "bmi-note.txt"
    note.write_bytes(b"BMI 31, weight 92 kg.\r\nPlan: diet review.\r\n")
    report = pipeline.ingest(workspace, [note])
    assert report.totals["ok"] == 1
    # CRLF survives the round trip through the workspace unchanged
    assert workspace.load_document(report.documents[0].id).text == note.read_bytes().decode()


def test_folders_and_zips_are_expanded_and_duplicates_skipped(workspace, corpus, tmp_path):
    folder, files = corpus
    archive = zip_of(list(files.values()), folder, tmp_path / "all.zip")
    report = pipeline.ingest(workspace, [folder])
    assert report.totals["ok"] == len(files)
    again = pipeline.ingest(workspace, [archive])
    assert again.totals == {"ok": 0, "failed": 0, "duplicate": len(files), "files": len(files)}
    assert all("!" in item.source for item in again.documents)
    assert workspace.document_count() == len(files)


def test_zip_guards(workspace, tmp_path):
    traversal = tmp_path / "traversal.zip"
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("../evil.txt", "escape attempt")
        archive.writestr("/etc/absolute.txt", "absolute path")
        archive.writestr("ok/fine.txt", "Diagnosis: otitis media.")
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.txt", b"0" * (30 * 1024 * 1024))  # 30 MB -> ~30 KB
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(12):
            archive.writestr(f"n{i}.txt", f"note {i}")
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip")
    report = pipeline.ingest(workspace, [traversal, bomb, many, corrupt],
                             IngestSettings(zip_max_total_mb=10, zip_max_files=10))
    results = {item.source.replace(f"{tmp_path}/", ""): item for item in report.documents}
    assert "path traversal" in results["traversal.zip!../evil.txt"].error
    assert "path traversal" in results["traversal.zip!/etc/absolute.txt"].error
    assert results["traversal.zip!ok/fine.txt"].status == "ok"
    assert "zip bomb" in results["bomb.zip"].error
    assert "zip bomb" in results["many.zip"].error and "12 files" in results["many.zip"].error
    assert "corrupt zip" in results["corrupt.zip"].error
    assert not (tmp_path / "evil.txt").exists() and not (workspace.root.parent / "evil.txt").exists()


def test_one_oversized_zip_member_fails_alone(workspace, tmp_path):
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a-small.txt", "Diagnosis: cellulitis.")
        archive.writestr("b-large.txt", b"x" * (2 * 1024 * 1024))  # over max_file_mb=1
        archive.writestr("c-small.txt", "Diagnosis: impetigo.")
    report = pipeline.ingest(workspace, [outer], IngestSettings(max_file_mb=1, zip_max_total_mb=3))
    results = {item.source.split("!", 1)[1]: item for item in report.documents}
    assert results["a-small.txt"].status == "ok"
    assert "over the 1 MB limit" in results["b-large.txt"].error
    assert results["c-small.txt"].status == "ok"  # the members after it were still read


def test_nested_zips_share_the_outer_zips_budget(workspace, tmp_path):
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner-a.txt", b"a" * (600 * 1024))
        archive.writestr("inner-b.txt", b"b" * (600 * 1024))
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a-first.txt", b"c" * (900 * 1024))
        archive.write(inner, "b-nested.zip")
    # 2 MB for everything: after the first 0.9 MB, the nested 1.2 MB no longer fits
    report = pipeline.ingest(workspace, [outer], IngestSettings(zip_max_total_mb=2))
    results = {item.source.split("!", 1)[1]: item for item in report.documents}
    assert results["a-first.txt"].status == "ok"
    assert "zip bomb" in results["b-nested.zip"].error
    alone = pipeline.ingest(workspace, [inner], IngestSettings(zip_max_total_mb=2))
    assert alone.totals["ok"] == 2  # on its own the inner zip is within the limit


def test_a_stopped_batch_resumes_without_redoing_finished_files(workspace, corpus):
    folder, files = corpus
    stop = threading.Event()
    seen = []

    def progress(done, total, source):
        seen.append(source)
        if done == 3:
            stop.set()

    first = pipeline.ingest(workspace, [folder], progress=progress, stop_event=stop)
    assert first.stopped and first.totals["ok"] == 3
    second = pipeline.ingest(workspace, [folder])
    assert second.totals["duplicate"] == 3  # recognised by hash, not read again
    assert second.totals["ok"] == len(files) - 3
    assert workspace.document_count() == len(files)


def test_without_tesseract_text_formats_work_and_ocr_says_what_to_install(workspace, corpus,
                                                                           monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there (files are read in a child)
    report = pipeline.ingest(workspace, [corpus[1]["one-column.pdf"], corpus[1]["letter.docx"],
                                         corpus[1]["utf8.txt"], corpus[1]["scan.png"]])
    results = by_name(report)
    assert [results[n].status for n in ("one-column.pdf", "letter.docx", "utf8.txt")] == ["ok"] * 3
    assert results["scan.png"].status == "failed"
    assert "sudo apt-get install tesseract-ocr tesseract-ocr-eng" in results["scan.png"].error


def test_raw_copies_are_owner_only(workspace, corpus):
    pipeline.ingest(workspace, [corpus[1]["letter.docx"]])
    raws = list(workspace.folder("raw").iterdir())
    assert len(raws) == 1 and raws[0].suffix == ".docx"
    assert raws[0].read_bytes() == corpus[1]["letter.docx"].read_bytes()
    assert workspace.check_permissions() == []


def test_cli_ingest_json_follows_the_contract(tmp_path, corpus):
    out = run_cli("ingest", str(corpus[1]["one-column.pdf"]), str(corpus[1]["scan.png"]),
                  str(tmp_path / "missing.pdf"), "--workspace", str(tmp_path / "ws"), "--json")
    assert out.returncode == 1  # one file failed: the batch ran, the status says so
    assert "error: ingest: 1 of 3 files failed" in out.stderr
    report = json.loads(out.stdout)  # the full report is still printed
    items = by_name(report)
    for item in report["documents"]:
        assert {"source", "id", "status", "error", "pages", "ocr_pages", "characters",
                "text_file"} <= item.keys()
    assert items["scan.png"]["ocr_pages"] == 1 and items["scan.png"]["pages"] == 1
    with open(items["one-column.pdf"]["text_file"], encoding="utf-8") as text:
        assert "Heart failure with reduced ejection fraction" in text.read()
    assert items["missing.pdf"]["error"] == "no such file or folder"
    assert report["totals"] == {"ok": 2, "failed": 1, "duplicate": 0, "files": 3}
    assert "2 ingested, 1 failed, 0 skipped as duplicates" in out.stderr
