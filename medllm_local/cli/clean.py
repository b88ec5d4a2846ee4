"""The `clean` command: clean the approved documents, revert changes, and type pages that
OCR read poorly. A thin face over pipeline.clean, like the rest of the CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medllm_local.pipeline.clean import CleanedDocument


def _pair(value: str, what: str) -> tuple[int, str]:
    document, sep, rest = value.partition(":")
    if not sep or not document.isdigit() or not rest:
        raise ValueError(f"expected {what}, got {value!r}")
    return int(document), rest


def add_clean_arguments(parser: argparse.ArgumentParser) -> None:
    from medllm_local.stages.clean import CleanSettings
    from medllm_local.cli.args import add_settings_arguments

    parser.add_argument("--revert", nargs="+", type=int, metavar="CHANGE",
                        help="revert these changes (ids from the report); with --restore, "
                             "apply them again")
    parser.add_argument("--revert-step", metavar="DOC:STEP",
                        help="revert one step of one document (STEP: boilerplate, abbreviation, "
                             "typo, or all)")
    parser.add_argument("--restore", action="store_true",
                        help="with --revert or --revert-step: apply the changes again")
    parser.add_argument("--show", type=int, metavar="DOC",
                        help="one document's changes, its de-identified and its cleaned text")
    parser.add_argument("--queue", action="store_true",
                        help="list the OCR pages waiting to be typed by a person")
    parser.add_argument("--transcribe", metavar="DOC:PAGE",
                        help="replace a page's OCR text with the text in --text-file; the "
                             "document is de-identified again and needs approval again")
    parser.add_argument("--text-file", metavar="FILE",
                        help="the typed page for --transcribe (- reads stdin)")
    parser.add_argument("--undo-transcription", metavar="DOC:PAGE",
                        help="put a page's OCR text back")
    add_settings_arguments(parser, CleanSettings)


def cmd_clean(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline
    from medllm_local.stages.clean import CleanSettings
    from medllm_local.cli.args import open_workspace, progress_bar, settings_from_args

    settings = settings_from_args(CleanSettings, args)
    workspace = open_workspace(args)
    if args.text_file and not args.transcribe:
        raise ValueError("--text-file goes with --transcribe DOC:PAGE")
    if args.transcribe or args.undo_transcription:
        document, page = _pair(args.transcribe or args.undo_transcription, "DOC:PAGE")
        if not page.isdigit():
            raise ValueError(f"expected DOC:PAGE with a page number, got {page!r}")
        text = None
        if args.transcribe:
            if not args.text_file:
                raise ValueError("--transcribe needs --text-file FILE (or - for stdin)")
            text = sys.stdin.read() if args.text_file == "-" else \
                Path(args.text_file).read_text(encoding="utf-8")
        report = pipeline.transcribe_page(workspace, document, int(page), text)
        print(report["message"], file=sys.stderr)
        return report
    if args.queue:
        queue = [{k: v for k, v in item.items() if k != "text"}
                 for item in pipeline.transcription_queue(workspace)]
        if not args.json:
            for item in queue:
                print(f"{item['document']}:{item['page']}  {Path(item['source']).name}  "
                      f"OCR confidence {item['ocr_confidence'] or 0:.0f}  ({item['status']})")
        return {"transcription_queue": queue}
    if args.show is not None:
        report = pipeline.document_cleaning(workspace, args.show)
        if not args.json:
            _print_changes(report)
            print(report.text)
        return report.to_json()
    if args.revert or args.revert_step:
        if args.revert_step:
            document, step = _pair(args.revert_step, "DOC:STEP")
            report = pipeline.revert_changes(workspace, document_id=document,
                                             step=None if step == "all" else step,
                                             restore=args.restore)
        else:
            report = pipeline.revert_changes(workspace, args.revert, restore=args.restore)
        if not args.json:
            for item in report.documents:
                _print_changes(item)
        return report.to_json()
    with progress_bar("doc") as progress:
        report = pipeline.clean_documents(workspace, settings, progress)
    if not args.json:
        for item in report.documents:
            _print_changes(item)
        if report.transcription_queue:
            print(f"{len(report.transcription_queue)} OCR pages wait to be typed (clean --queue)")
    totals = report.totals
    print(f"cleaned {totals.documents} documents: " + ", ".join(
        f"{n} {step}" for step, n in totals.changes.items()) + f" ({totals.seconds} s)",
        file=sys.stderr)
    return report.to_json()


def _print_changes(item: CleanedDocument) -> None:
    counts = ", ".join(f"{n} {step}" for step, n in item.changes.items())
    print(f"{item.id}: {Path(item.source).name}: {counts}")
    for step, changes in item.steps.items():
        for change in changes:
            mark = " (reverted)" if change.reverted else ""
            print(f"  [{change.id}] {step} line {change.line}: "
                  f"{change.before.strip()[:60]!r} -> {change.after[:60]!r}{mark}")
