"""The command line's chat: a question, or a case form, answered freely or as a ranked
differential (schema-checked JSON), with similar past cases from the workspace's
approved archive. A thin face over pipeline.py, kept apart from cli/main.py for length."""

from __future__ import annotations

import argparse
import json
import sys

from medllm_local.cli.args import add_settings_arguments, open_workspace, settings_from_args

CASE_FIELDS = ("age", "sex", "history", "symptoms", "findings")


def add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    from medllm_local.stages.chat.answer import ChatSettings, DifferentialSettings

    parser.add_argument("--model", default=None, help="a GGUF name or path (default: the embedded model)")
    parser.add_argument("--prompt", default=None,
                        help="the question; - reads it from stdin (keeps case text out of the "
                             "process list). With --differential: the case's report text")
    case = parser.add_argument_group(
        "case form", "a case asked in the words of the training template, instead of --prompt")
    case.add_argument("--case-json", metavar="FILE", default=None,
                      help="the case as JSON with keys age, sex, history, symptoms, findings; "
                           "- reads stdin (keeps case text out of the process list)")
    case.add_argument("--age", type=int, default=None, help="age in years")
    for name, text in (("sex", "sex or gender"), ("history", "past history"),
                       ("symptoms", "presenting symptoms"), ("findings", "examination and results")):
        case.add_argument(f"--{name}", default=None, help=text)
    parser.add_argument("--differential", action="store_true",
                        help="answer with a ranked differential as JSON (diagnosis, likelihood, "
                             "supporting and opposing findings), checked against its schema")
    parser.add_argument("--similar", type=int, metavar="N", default=0,
                        help="also list the N most similar approved cases of the workspace, "
                             "with their recorded diagnoses (de-identified text only)")
    add_settings_arguments(parser, ChatSettings)
    add_settings_arguments(parser.add_argument_group("differential bounds"), DifferentialSettings)


def case_from_args(args: argparse.Namespace):
    """The case form from --case-json or the field options; None when neither is given."""
    from medllm_local.core.prompts import CaseForm

    given = {name: getattr(args, name) for name in CASE_FIELDS if getattr(args, name) is not None}
    if args.case_json is None:
        return CaseForm(**given) if given else None
    if given:
        raise ValueError("give the case as --case-json or as --age/--sex/... options, not both")
    raw = sys.stdin.read() if args.case_json == "-" else open(args.case_json, encoding="utf-8").read()
    data = json.loads(raw)
    unknown = set(data) - set(CASE_FIELDS)
    if not isinstance(data, dict) or unknown:
        raise ValueError(f"--case-json: expected an object with keys {', '.join(CASE_FIELDS)}"
                         + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""))
    if data.get("age") is not None:
        data["age"] = int(data["age"])
    return CaseForm(**data)


def cmd_chat(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline
    from medllm_local.stages.chat.answer import ChatSettings, DifferentialSettings
    from medllm_local.core.prompts import case_form_prompt
    from medllm_local.core.records import to_json

    settings = settings_from_args(ChatSettings, args)
    if args.prompt == "-":
        args.prompt = sys.stdin.read()
    form = case_from_args(args)
    if (form is None) == (args.prompt is None):
        raise ValueError("give either --prompt or a case (--case-json, or --age/--sex/--history/"
                         "--symptoms/--findings)")
    if args.similar < 0:
        raise ValueError("--similar must be 0 or more")
    case = form if form is not None else args.prompt
    report: dict = {}
    if args.differential:
        result = pipeline.chat_differential(case, args.model, settings,
                                            settings_from_args(DifferentialSettings, args))
        report = to_json(result.answer) | {"differential": to_json(result.items),
                                           "not_diagnoses": result.not_diagnoses}
        if result.problem:
            print(f"note: {result.problem}", file=sys.stderr)
        if not args.json:
            for rank, item in enumerate(result.items, 1):
                print(f"{rank}. {item.diagnosis} ({item.likelihood})")
                print(f"   for: {'; '.join(item.supporting_findings) or '-'}")
                print(f"   against: {'; '.join(item.opposing_findings) or '-'}")
    else:
        question = case_form_prompt(form) if form is not None else args.prompt
        report = _stream_answer(question, args, settings)
    if args.similar:
        report["similar_cases"] = pipeline.similar_cases(open_workspace(args), case, args.similar)
        if not args.json:
            print("\nSimilar past cases (de-identified):")
            for item in report["similar_cases"]:
                print(f"- document {item['document_id']} (score {item['score']:.2f}): "
                      f"{item['diagnosis'] or 'no diagnosis recorded'}")
            if not report["similar_cases"]:
                print("- none: no approved case shares a word with this one")
    a = report
    print(f"[{a['tokens']} tokens, {a['seconds']:.1f} s, stop: {a['stop_reason']}]", file=sys.stderr)
    return report


def _stream_answer(question: str, args: argparse.Namespace, settings) -> dict:
    """A free answer: streamed to the terminal, or collected for --json."""
    from medllm_local import pipeline
    from medllm_local.core.records import to_json

    if args.json:
        return to_json(pipeline.chat_answer(question, args.model, settings))
    printed, final = 0, None
    for chunk in pipeline.chat_stream(question, None, args.model, settings):
        if chunk.done:
            final = chunk.answer
        else:
            sys.stdout.write(chunk.text[printed:])
            sys.stdout.flush()
            printed = len(chunk.text)
    print()
    return to_json(final)
