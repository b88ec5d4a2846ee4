"""De-identification with the real Presidio and spaCy model: every Safe Harbor class is
removed, clinical content survives, surrogates are consistent, and the gate holds."""

from __future__ import annotations

import datetime as dt
import json
import re
import stat

import pytest

from conftest import run_cli
from medllm_local import pipeline
from medllm_local.stages.deid.engine import DeidEngine, DeidSettings, deidentify_texts
from medllm_local.core.demo_reports import DEMO_REPORTS
from medllm_local.stages.deid.surrogates import Surrogates

SAFE_HARBOR_NOTE = """Patient: Margaret Okonkwo-Reyes    DOB: 04/17/1931    MRN: 0098-7734
Seen at Maple Ridge Community Hospital, 4410 Larkspur Avenue, Apt 3B, Fairhaven, OR 97218.
Phone (503) 555-0147 ext 22, fax 503-555-0199, email m.okonkwo@mailbox.example.com.
SSN 123-45-6789. Account number: AC-55821907. Health plan ID: HP99812734.
Licence number: D1234-5678. VIN: 1HGCM82633A004352. Device serial: PM-88213-X.
Portal https://portal.mapleridge.example.org/records and server 10.24.8.17.
She is a 93-year-old woman admitted on March 3, 2024 and seen again on 3/10.
ASSESSMENT: Community-acquired pneumonia. Started amoxicillin 500 mg three times daily.
Signed: Dr. Tobias Vandermeer, MD"""
IDENTIFIERS = ["Margaret", "Okonkwo-Reyes", "04/17/1931", "0098-7734", "Maple Ridge",
               "4410 Larkspur Avenue", "Fairhaven", "97218", "(503) 555-0147", "503-555-0199",
               "m.okonkwo@mailbox.example.com", "123-45-6789", "AC-55821907", "HP99812734",
               "D1234-5678", "1HGCM82633A004352", "PM-88213-X", "portal.mapleridge",
               "10.24.8.17", "93-year-old", "March 3", "3/10", "Tobias", "Vandermeer"]
CLINICAL = ["Community-acquired pneumonia", "amoxicillin 500 mg three times daily", "woman"]


@pytest.fixture(scope="module")
def engine():
    return DeidEngine()


@pytest.fixture
def surrogates():
    return Surrogates(b"test-secret-key-of-32-bytes-long", "shift")


def deidentify(engine, surrogates, *texts):
    return deidentify_texts(engine, list(texts), surrogates)


def test_every_safe_harbor_class_is_removed_and_clinical_text_kept(engine, surrogates):
    result = deidentify(engine, surrogates, SAFE_HARBOR_NOTE)[0]
    for identifier in IDENTIFIERS:
        assert identifier.lower() not in result.text.lower(), identifier
    for phrase in CLINICAL:
        assert phrase in result.text, phrase
    assert "90+" in result.text  # ages over 89 are aggregated
    types = {f.type for f in result.findings}
    assert {"PERSON", "DATE_TIME", "ID", "PHONE_NUMBER", "EMAIL_ADDRESS", "URL",
            "IP_ADDRESS", "LOCATION", "AGE"} <= types


def test_findings_point_into_the_input(engine):
    findings = engine.find(SAFE_HARBOR_NOTE)
    spans = [SAFE_HARBOR_NOTE[f.start:f.end] for f in findings]
    assert any("Margaret Okonkwo-Reyes" in s for s in spans)
    assert all(f.start < f.end for f in findings)
    assert sorted(findings, key=lambda f: f.start) == findings
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:]))  # no overlaps


def test_demo_reports_lose_every_identifier_and_keep_their_diagnosis(engine, surrogates):
    results = deidentify(engine, surrogates, *[r.text for r in DEMO_REPORTS])
    for report, result in zip(DEMO_REPORTS, results):
        for word in report.patient.replace("-", " ").split():
            assert word not in result.text, (report.slug, word)
        for identifier in re.findall(r"MRN: (\S+)|DOB: (\S+)", report.text):
            assert all(i not in result.text for i in identifier if i)
        assert "Jordan" not in result.text and "Morgan Testcase" not in result.text
        assert report.diagnosis in result.text, report.slug


def test_eponyms_drugs_and_young_ages_survive(engine, surrogates):
    text = ("Patient: Dana Quill. 47-year-old with a Baker's cyst, Parkinson's disease and "
            "a Wells score of 3. Started Apixaban 5 mg and Atorvastatin 20 mg.")
    result = deidentify(engine, surrogates, text)[0]
    for kept in ("47-year-old", "Baker's cyst", "Parkinson's disease", "Wells score",
                 "Apixaban 5 mg", "Atorvastatin 20 mg"):
        assert kept in result.text, kept
    assert "Dana" not in result.text and "Quill" not in result.text


def test_a_name_found_once_is_removed_everywhere_in_any_case(engine, surrogates):
    text = ("Patient: Brian Whitcombe\nHPI: brian reports chest pain. MR. WHITCOMBE denies "
            "fever. Whitcombe's wife is worried.")
    result = deidentify(engine, surrogates, text)[0]
    assert "whitcombe" not in result.text.lower() and "brian" not in result.text.lower()


def test_surrogates_are_consistent_and_never_taken_from_the_input(engine, surrogates):
    first, second = deidentify(
        engine, surrogates,
        "Patient: Ann Porter. Seen by Dr. Lena Castellano on 02/01/2024.",
        "Follow-up letter from Dr. Lena Castellano about Ann Porter.")
    doctor = re.search(r"Dr\. (\w+ \w+)", first.text).group(1)
    assert f"Dr. {doctor}" in second.text  # the same person, the same surrogate
    assert doctor != "Lena Castellano"
    again = Surrogates(b"test-secret-key-of-32-bytes-long", "shift")
    assert again.person("Lena Castellano") == doctor  # stable across runs with the key


def test_a_first_name_gets_a_surrogate_of_the_same_sex_in_every_form(surrogates):
    from medllm_local.stages.deid.surrogates import first_name_sex

    for real in ("Mary", "Linda", "Patricia", "Barbara", "Susan", "Margaret"):
        full = surrogates.person(f"{real} Okafor").split()[0]
        assert first_name_sex(full) in ("female", "either"), (real, full)  # never "Mrs. Allen"
        # the same surrogate alone, in LAST, FIRST order and in capitals
        assert surrogates.person(real) == full
        assert surrogates.person(f"OKAFOR, {real.upper()}").split()[-1] == full.upper()
    for real in ("John", "Robert", "Michael", "William", "David", "Richard"):
        assert first_name_sex(surrogates.person(f"{real} Okafor").split()[0]) in ("male", "either"), real
    last = surrogates.person("Okafor")
    assert surrogates.person("Mary Okafor").endswith(last) and surrogates.person("Okafor, Mary").startswith(last)


def test_dates_shift_by_one_offset_per_patient(engine, surrogates):
    result = deidentify(engine, surrogates,
                        "Patient: Ivo Brandt. Admitted 01/10/2024, discharged 01/24/2024.")[0]
    dates = re.findall(r"\d{2}/\d{2}/\d{4}", result.text)
    assert len(dates) == 2 and "01/10/2024" not in dates
    start, end = (dt.datetime.strptime(d, "%m/%d/%Y") for d in dates)
    assert (end - start).days == 14  # the interval is clinically true


def test_year_mode_keeps_only_the_year(engine):
    result = deidentify_texts(engine, ["Patient: Ivo Brandt. Admitted 01/10/2024 and 3/4."],
                              Surrogates(b"k" * 32, "year"))[0]
    assert "2024" in result.text and "01/10" not in result.text and "3/4" not in result.text


def test_deny_and_allow_lists(surrogates):
    engine = DeidEngine(DeidSettings(deny_list="Lakeside, Hilltop Annex", allow_list="Hope"))
    text = "Referred from Lakeside to the Hilltop Annex. Hope for recovery is good."
    result = deidentify_texts(engine, [text], surrogates)[0]
    assert "Lakeside" not in result.text and "Hilltop Annex" not in result.text
    assert "Hope for recovery" in result.text


def test_deid_file_cli_prints_text_and_offsets_but_never_the_identifiers(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(SAFE_HARBOR_NOTE)
    out = run_cli("deid", "--file", str(note), str(tmp_path / "missing.txt"), "--json")
    assert out.returncode == 1  # one of the two files failed
    report = json.loads(out.stdout)
    good, bad = report["files"]
    assert bad["error"] == "no such file or folder"
    assert "Margaret" not in good["text"] and "Community-acquired pneumonia" in good["text"]
    assert "Margaret" in SAFE_HARBOR_NOTE[good["findings"][0]["start"]:good["findings"][0]["end"]]
    for finding in good["findings"]:
        assert set(finding) == {"start", "end", "type", "score", "recognizer"}
    assert "Margaret" not in out.stdout.replace(good["text"], "") and "Margaret" not in out.stderr


def test_workspace_deid_approve_and_the_gate(workspace, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text(DEMO_REPORTS[0].text)
    (folder / "b.txt").write_text(DEMO_REPORTS[4].text)
    ids = [d.id for d in pipeline.ingest(workspace, [folder]).documents]
    with pytest.raises(pipeline.GateError, match="a.txt \\(ingested\\)"):
        pipeline.require_approved(workspace, ids)
    with pytest.raises(pipeline.GateError, match="not de-identified yet"):
        pipeline.approve_documents(workspace, ids)

    report = pipeline.deid_documents(workspace)
    assert [d.id for d in report.documents] == ids
    deid_text = open(report.documents[0].deid_file).read()
    assert "Alex Example" not in deid_text and "Community-acquired pneumonia" in deid_text
    with pytest.raises(pipeline.GateError, match="deidentified"):
        pipeline.require_approved(workspace, ids)
    approved = pipeline.approve_documents(workspace)
    assert approved.approved == ids and approved.unreviewed_findings > 5
    pipeline.require_approved(workspace, ids)  # passes now

    # the real values live only in the raw area, owner-only; the catalogue has offsets
    raw = workspace.folder("raw")
    for name in (pipeline.SURROGATE_KEY, pipeline.SURROGATE_MAP):
        assert stat.S_IMODE((raw / name).stat().st_mode) == 0o600
    conn = workspace.connect()
    columns = [r[1] for r in conn.execute("PRAGMA table_info(findings)")]
    patients = [r[0] for r in conn.execute("SELECT patient FROM documents")]
    conn.close()
    assert "text" not in columns
    assert all(re.fullmatch(r"[0-9a-f]{16}", p) for p in patients)
    catalogue = workspace.catalogue_path.read_bytes()
    assert b"Alex Example" not in catalogue and b"4471-0923" not in catalogue

    pipeline.deid_documents(workspace, [ids[0]])  # re-run: needs approval again
    with pytest.raises(pipeline.GateError, match="a.txt \\(deidentified\\)"):
        pipeline.require_approved(workspace, ids)


def test_cli_deid_all_then_approve(tmp_path):
    ws = str(tmp_path / "ws")
    note = tmp_path / "note.txt"
    note.write_text(DEMO_REPORTS[4].text)
    assert run_cli("ingest", str(note), "--workspace", ws).returncode == 0
    out = run_cli("deid", "--all", "--approve", "--workspace", ws, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["documents"][0]["findings"]["PERSON"] >= 2
    assert report["approved"] == [1]
    assert "findings were approved without being reviewed" in out.stderr
    assert "Jamie" not in out.stdout + out.stderr


def test_residual_scan_passes_deidentified_text_and_catches_what_is_left(workspace, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(DEMO_REPORTS[0].text)
    doc_id = pipeline.ingest(workspace, [note]).documents[0].id
    deid_file = pipeline.deid_documents(workspace).documents[0].deid_file
    clean = open(deid_file).read()
    assert pipeline.residual_scan(workspace, {"train.jsonl": clean}) == []
    # a real value that slipped back in (say, pasted by hand) is caught by the map...
    leaked = clean + "\nCopied from the original: MRN 4471-0923."
    hits = pipeline.residual_scan(workspace, {"train.jsonl": leaked})
    assert any(h["type"] == "KNOWN_REAL_VALUE" for h in hits)
    # ...and a new identifier by the detectors; no hit repeats what it found
    hits = pipeline.residual_scan(workspace, {"train.jsonl": clean + "\nCall Dr. Quentin Halvorsen."})
    assert hits and all("Halvorsen" not in json.dumps(h) for h in hits)
    assert workspace.load_document(doc_id).text == DEMO_REPORTS[0].text  # raw untouched


def test_canary_identifiers_never_leave_the_raw_area(tmp_path):
    """50 unique identifiers planted across the demo reports, then ingest, de-identify,
    approve and build the dataset through the CLI: none may appear in any file or
    catalogue field outside the raw area (raw/, text/, inbox/), in the dataset files, nor
    in anything the commands printed."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(50)
    canaries, folder = [], tmp_path / "reports"
    folder.mkdir()
    for i, report in enumerate(DEMO_REPORTS):
        lines = []
        for _ in range(10):
            kind = len(canaries) % 5
            value = [f"{fake.first_name()}zq {fake.last_name()}zq",
                     fake.numerify("MRN: 7#######"),
                     fake.numerify("(5##) 7##-####"),
                     f"{fake.user_name()}zq@example.net",
                     f"{fake.random_int(100, 9999)} {fake.last_name()}zq Street"][kind]
            label = ["Contact: ", "", "Phone ", "Email ", "Lives at "][kind]
            canaries.append(value.replace("MRN: ", ""))
            lines.append(f"{label}{value}.")
        (folder / f"{report.slug}.txt").write_text(report.text + "\n" + "\n".join(lines) + "\n")
    assert len(set(canaries)) == 50
    ws = tmp_path / "ws"
    printed = ""
    for command in (["ingest", str(folder)], ["deid", "--all", "--approve"], ["build"]):
        out = run_cli(*command, "--workspace", str(ws), "--json")
        assert out.returncode == 0, out.stderr
        printed += out.stdout + out.stderr
    raw_area = {"raw", "text", "inbox"}
    outside = [p for p in ws.rglob("*") if p.is_file()
               and p.relative_to(ws).parts[0] not in raw_area]
    assert any(p.parts[-2] == "deid" for p in outside)
    assert any(p.name == "train.jsonl" for p in outside)  # the dataset was written
    extracted = b"".join(p.read_bytes() for p in (ws / "text").iterdir())
    assert all(c.encode() in extracted for c in canaries)  # they were there to leak
    for canary in canaries:
        needle = canary.encode()
        assert needle not in printed.encode(), canary
        for path in outside:
            assert needle not in path.read_bytes(), (canary, path.relative_to(ws))


def test_saved_deny_and_allow_lists_apply_to_workspace_deid(workspace, tmp_path):
    workspace.save_settings({"deny_list": "Riverbend", "allow_list": ""})
    assert workspace.load_settings()["deny_list"] == "Riverbend"
    note = tmp_path / "note.txt"
    note.write_text("Patient transferred from riverbend after a fall. Stable.")
    pipeline.ingest(workspace, [note])
    deid_file = pipeline.deid_documents(workspace).documents[0].deid_file
    assert "riverbend" not in open(deid_file).read().lower()
    assert "transferred from" in open(deid_file).read()


def test_rare_word_pass_finds_names_ner_misses_when_asked(surrogates):
    # after "with" and "and", capitalised words that no list knows are names by default
    # (stages/deid/context.py and the clinical NER); the optional rare-word pass finds them too
    text = "Discussed the plan with Okonkwo and Vandermeer at the bedside; no chest pain."
    off = deidentify_texts(DeidEngine(), [text], surrogates)[0]
    on = deidentify_texts(DeidEngine(DeidSettings(recall_zipf=2.5)), [text], surrogates)[0]
    for result in (off, on):
        assert "Okonkwo" not in result.text and "Vandermeer" not in result.text
        assert "chest pain" in result.text and "Discussed the plan" in result.text
    assert off.findings and not any(f.recognizer == "rare_capitalised_word" for f in off.findings)


def test_a_rejected_finding_is_kept_in_the_text_and_no_longer_counts_as_real(workspace, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(DEMO_REPORTS[0].text)
    doc_id = pipeline.ingest(workspace, [note]).documents[0].id
    pipeline.deid_documents(workspace)
    phone = next(f for f in workspace.findings_for(doc_id) if f["type"] == "PHONE_NUMBER")
    view = pipeline.revise_document(workspace, doc_id, reject=[phone["id"]], add_text="rusty")
    assert "(555) 010-4477" in view.deid_text and "rusty" not in view.deid_text
    assert "Alex Example" not in view.deid_text
    rejected = {"x": pipeline.rejected_texts(workspace, doc_id)}
    assert rejected["x"] == {"(555) 010-4477"}
    approved = {"x": view.deid_text}  # as a build passes it: the approved text
    hits = pipeline.residual_scan(workspace, approved, approved, rejected)
    assert not [h for h in hits if h["blocking"]]  # the reviewer said it is not an identifier
    unreviewed = pipeline.residual_scan(workspace, {"x": view.deid_text})
    assert any(h["blocking"] and h["type"] == "PHONE_NUMBER" for h in unreviewed)
    with pytest.raises(ValueError, match="does not occur"):
        pipeline.revise_document(workspace, doc_id, add_text="no such words here")


@pytest.mark.parametrize("text, identifier", [
    ("Patient:\u00a0Grace Okonkwo\nSeen today.", "Okonkwo"),
    ("MRN:\u00a012345678, seen today.", "12345678"),
    ("Lives at 12\u00a0Elm Street, alone.", "Elm Street"),
    ("Patient: Grace Oko\u00adnkwo, seen today.", "Okonkwo"),
    ("MRN: 1234\u200b5678, seen today.", "12345678"),
    ("MRN: \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18, seen today.", "12345678"),
    ("Seen by Dr.\u202fTobias Vandermeer\u2019s team.", "Vandermeer"),
])
def test_unicode_spaces_and_format_characters_hide_no_identifier(engine, surrogates, text, identifier):
    import unicodedata

    out = deidentify_texts(engine, [text], surrogates)[0].text
    visible = "".join(c for c in unicodedata.normalize("NFKC", out) if unicodedata.category(c) != "Cf")
    assert identifier not in visible, out
    # the finding covers the original span, invisible characters included
    digits_or_letters = re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", identifier))
    assert digits_or_letters not in re.sub(r"[^0-9A-Za-z]", "", visible)


def test_the_same_note_in_title_case_capitals_and_lower_case_loses_the_same_names(engine):
    note = ("Pt seen by Dr Okafor overnight. Husband Tom aware of plan. Talked with Maria "
            "from case management. Heparin at 900 units/hr. Karen")
    names = {"okafor", "tom", "maria", "karen"}
    for variant in (note, note.upper(), note.lower()):
        found = {w.lower() for f in engine.find(variant) for w in re.findall(r"[A-Za-z]+", f.text)}
        assert names <= found, (variant, found)
        assert not found & {"heparin", "case", "management", "plan", "aware"}, found


def test_not_an_identifier_is_rejected_in_every_document_and_kept_later(workspace, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    # "Vandermeer" stands for a word the detectors wrongly take for a name in every note
    for index in range(3):
        (folder / f"n{index}.txt").write_text(
            f"Note {index}. Talked with Vandermeer about the plan. Seen by Dr. Okafor.")
    pipeline.ingest(workspace, [folder])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    out = run_cli("deid", "--not-identifier", "vandermeer", "--workspace", str(workspace.root), "--json")
    assert out.returncode == 0, out.stderr
    [report] = json.loads(out.stdout)["not_identifier"]
    assert len(report["documents"]) == 3 and report["rejected_findings"] >= 3
    assert "rejected" in out.stderr and "Vandermeer" not in out.stdout + out.stderr
    for row in workspace.document_rows():
        assert row["status"] == "deidentified"  # needs approval again
        text = (workspace.root / row["deid_file"]).read_text()
        assert "Vandermeer" in text and "Okafor" not in text
    (folder / "n9.txt").write_text("Later note. Talked with Vandermeer again; Dr. Okafor agrees.")
    pipeline.ingest(workspace, [folder / "n9.txt"])
    new = pipeline.deid_documents(workspace).documents[0]
    text = open(new.deid_file).read()
    assert "Vandermeer" in text and "Okafor" not in text
    with pytest.raises(ValueError):
        pipeline.reject_everywhere(workspace, "  ")


@pytest.mark.parametrize("line, name", [
    ("PT OOB TO CHAIR W/ PT PA MENDOZA, TOLERATED WELL", "MENDOZA"),       # staff abbreviation
    ("per micro call from RT MARIA, cx pending", "MARIA"),                # a name web2 lists as a word
    ("report called to Frieder RN #57456 (beeper)", "Frieder"),           # rare word before a credential
    ("no acute bleed per Zimmer M.D. A&Ox3", "Zimmer"),                  # clinical-word surname, dotted credential
    ("attending milas present for key portions", "milas"),                # rare word after a role
    ("Gungordu, Borivoj and Rohat (children) updated", "Gungordu"),       # a list before a relative
    ("psychosocial: dtrs feyzin & jana at bedside", "feyzin"),            # plural relatives
    ("COUGH WEAK. BRO IGNAC'S CAR IN VISITOR LOT", "IGNAC"),              # possessive
    ("guaiac + stool x1, A.B. Sa'idu notified", "Sa'idu"),                # apostrophe surname
    ("Electronically signed by Dr NAPOLITANO/o martain on 100517", "o martain"),  # particle
    ("HR 80s SR; O Coilin, MD aware", "O Coilin"),
    ("wheezes diffuse; paged babasola chukwu x3 re: desat", "babasola chukwu"),  # lower-case note
    ("TOLERATED FEEDS\nAS RN", "AS"),                                     # initials at a line start
    ("R: PAGED CAPUCINE X3 RE: DESAT, NO CALL BACK", "CAPUCINE"),         # rare word after a contact verb
    ("charge nurse jaspers following", "jaspers"),                        # English only as an inflection
    ("HR 80S SR; DR. K. SARIN AWARE", "K. SARIN"),                        # title, initial, clinical-word surname
    ("interpreter (Obi, RN) used for the consent", "Obi"),                # capitalised before a credential
    ("report called to NP King 774-280-8754", "King"),                    # capitalised after a staff abbreviation
    ("FOLEY CHANGED\nDITA SN", "DITA"),                                   # a name and SN alone on a line
    ("mother agreed to above plan.\n/so rn", "so"),                       # slash initials spelling a word
    ("sister ottilie brought clothes", "ottilie"),                        # an uncommon word after a relative
    ("Labs drawn, results given to PA Deshpande at 1400", "Deshpande"),   # capitalised, uncommon, after PA
    ("SHE ASKS TO BE CALLED BEE; PAIN 3/10", "BEE"),                      # any word after "called" as a nickname
    ("note cosigned by dr.van oosterhout today", "van oosterhout"),       # a particle glued to the title
    ("PT AGITATED AT 0200, CALLED DIANA, NO NEW ORDERS", "DIANA"),         # a frequent first name after a contact verb
    ("Afebrile. Tamsin Wojcikiewicz resting comfortably.", "Tamsin Wojcikiewicz"),  # two capitalised unknown words
    ("Afebrile. Ysolde KOWALCZYK resting comfortably.", "Ysolde KOWALCZYK"),
    ("Note written by DR HOPE for the covering team", "HOPE"),             # capitals after a title in mixed case
    ("Visitors: Bill, SEVERINE and Ottavio (grandsons)", "Bill"),         # a list before the relatives
    ("asleep; it may upset ottavio rasmussen to wake him", "ottavio rasmussen"),  # a word in no list before a name
    ("ATTENDING DE MOOR PRESENT FOR KEY PORTIONS", "DE MOOR"),             # a particle before an English word
    ("Seen today. Case discussed with Fionn Mac an Bhaird, M.D. this Morning.", "Fionn Mac an Bhaird"),
    ("LABS FAXED TO PCP OFFICE  JT RN", "JT"),                             # initials after a wide gap
    ("ambulating in hall\n\nmaria p., rn", "maria p."),                   # name, initial, comma, credential
    ("Seen today with her daughter. Per Nursing, Rosalind Colon is resting comfortably in Bed.", "Colon"),
    ("Renal: UOP <20cc/hr x3h, barad aware, bolus given", "barad"),       # a rare word opening a clause before "aware"
    ("Seen and examined w/ house staff bilge.", "bilge"),                 # an uncommon word after a staff role
    ("PT FROM OSH, FRIEND MARK ON WAY IN", "MARK"),                       # a first name that is a word, after a relative
    ("ON ANTICOAGULATION; N. VU RN/BSN AWARE", "N. VU"),                  # initial and a two-letter surname
    ("SOLUMEDROL STARTED PER SARA CONTRACTOR, M.D., NO SMOKING", "CONTRACTOR"),  # a surname that is a word, before M.D.
    ("He was last seen by Dr. de la O's office on 11-Mar.", "de la O"),   # particles and a one-letter surname
    ("REPORT CALLED BY MAY KIM, RN", "MAY KIM"),                           # a first name that is a word, before a credential
    ("will cont to monitor. -summer liu, rn", "summer liu"),
    ("Would you like to move up his appointment?\n\nBest,\nWill\n", "Will"),  # a first name alone after a sign-off
    ("HER HUSBAND DREW WAS UPDATED IN THE FAMILY WAITING AREA", "DREW"),
    ("neuro resident dr. ford-loyal aware of new r pupil", "ford-loyal"),  # a double-barrelled surname
    ("vss, nad. nhlanhla resting. friend at bedside", "nhlanhla"),          # a word in no list before "resting"
])
def test_context_pass_finds_names_in_staff_and_family_forms(line, name):
    from medllm_local.stages.deid.context import ContextFinder

    found = [f.text for f in ContextFinder().find(line)]
    assert any(name in text for text in found), (line, found)


@pytest.mark.parametrize("line", [
    "PA pressure 40, CXR PA and lateral, RV normal",
    "LEADS: RA 5076-52 cm SN 69471417705; RV 5076-58 cm SN 7760740-448",
    "Psychiatry C/L Note - elopement\nPt is a 90 y.o. man",
    "pt tolerated diet, rt hand swollen, per protocol",
    "family meeting w/ son and daughter, questions answered",
    "NP swab sent, NP suctioned x2 for thick secretions",
    "called pharmacy re: dosing; paged covering team",
    "wife tearful at bedside, son lethargic, daughter anxious",
    "Resident Note - Pronouncement\nRN, triage",
    "Tolerating Vanco Zosyn well. Dr ORDERS reviewed",
    "I/O +1.2L. Foley draining clear yellow urine",
    "COLON RESECTION PLANNED FOR MONDAY",
    "Son will visit tomorrow, wife hopes for discharge. Daughter may come.",
    "Dictated by Drs. on call",
    "Thanks,\nTeam",
    "Pt on PD at home. PD catheter site clean. State police called.",
    "Lives in Assisted Living with daughter. Placed on BIPAP ST mode. Route of administration: oral.",
    "PT DESAT TO 85% ON RA, PLACED ON NRB. PT SATTING 92%",
    "vss. pateint resting, recieved morphine. VNA from home. Services from the hospital.",  # typos, no names
])
def test_context_pass_leaves_clinical_shorthand_alone(line):
    from medllm_local.stages.deid.context import ContextFinder

    assert ContextFinder().find(line) == [], line


@pytest.mark.parametrize("text, value", [
    ("Group #: 73829V | SSN (last 4): 8348 | Hospital account: 0461933401", "8348"),
    ("SSN on file ends in 7280", "7280"),
    ('GROSS: Received fresh labeled "ORTIZ, SANDY", a 1.2 cm nodular portion', "ORTIZ, SANDY"),
    ("Insurance Auth | Member: Shah, Lakshmi   DOB: 11/5/1976", "Shah, Lakshmi"),
    ("DOB/AGE: 19-JAN-1926 (92 Y) | PATIENT ID: 43286053", "92"),
])
def test_labelled_identifiers_are_found(engine, text, value):
    assert any(f.text == value for f in engine.find(text)), text


def test_letters_without_a_decomposition_are_folded():
    from medllm_local.core.textnorm import fold

    folded = fold("renal Yıldırım md, Łukasz, Søren Weiß")
    assert folded.text == "renal Yildirim md, Lukasz, Soren Weiss"
    start = folded.text.index("Weiss")
    assert folded.span(start, start + 5) == (len("renal Yıldırım md, Łukasz, Søren "), len(folded.original))


@pytest.mark.parametrize("text, found, kept", [
    ("d/c to home in nowy targ w/ vna", "nowy targ", "vna"),
    ("tx to OSH via stalowa wola EMS, report called", "stalowa wola", "EMS"),
    ("Home address: 12 Lozada Way apt 4B, Worcester", "12 Lozada Way apt 4B", "Worcester"),
])
def test_a_place_found_in_part_is_removed_whole(text, found, kept):
    from medllm_local.core.records import Finding
    from medllm_local.stages.deid.engine import extend_places

    part = found.split()[-1] if "apt" not in found else " ".join(found.split()[:3])
    start = text.index(part)
    [extended] = extend_places(text, [Finding(start, start + len(part), "LOCATION", 0.8, "test", part)], set())
    assert extended.text == found and kept not in extended.text


@pytest.mark.parametrize("text, place", [
    ("PROGRESS NOTE  6/4/10  SMH\nS: afebrile overnight", "SMH"),          # initials closing a header
    ("Dr Adesua Peltola\nCMH\nPO Box 7842", "CMH"),                         # initials under a signature
    ("returns to riverside (NH) 3/9; report called", "riverside"),         # a name before its kind
    ("osh in ipswich faxing records", "ipswich"),                          # unknown word after "osh in"
    ("she is followed by dr. b. gibbons at kellyside.", "kellyside"),      # unknown word after "at"
    ("WOUND CHECKED BY THE NANTUCKET NURSE", "NANTUCKET"),                  # a town before a facility's staff
    ("reviewed with the Lyskamm team this am", "Lyskamm"),
    ("WOUND CHECKED BY THE MAPLE GROVE TEAM", "MAPLE GROVE"),               # a town of two words
    ("CONSULT NOTE  4/2/2019  Kelsoville\nreason: syncope", "Kelsoville"),  # a place closing a header
    ("Afebrile. OSH in worcester faxing records.", "worcester"),            # a town seldom a word, in lower case
    ("Social history: Lives in Unity with her friend.", "Unity"),           # capitalised after "lives in"
    ("plate 4691339. Millinocket PD notified for a wellness check", "Millinocket"),  # a town before its police
    ("Preferred pharmacy: CVS on Depot Rd in Greenfield", "Depot Rd"),      # a street without its number
    ("HOME TO ALBANY W/ SERVICES, VNA FROM GREEN HOUSE; PT DENIES SMOKING", "GREEN HOUSE"),  # the agency
    ("DISPOSITION: HILLCREST COMMONS, 1193 ROUTE 2A, SKOWHEGAN", "1193 ROUTE 2A"),  # a numbered route
])
def test_place_pass_finds_facilities_and_towns_by_their_context(text, place):
    from medllm_local.stages.deid.context import ContextFinder

    found = [f.text for f in ContextFinder().find(text) if f.type in ("FACILITY", "LOCATION")]
    assert place in found, (text, found)


@pytest.mark.parametrize("text", ["PMH\nHTN, DM2, CKD", "CXR\nNEG", "PT SEEN AT BEDSIDE, AT BASELINE",
                                  "osh in boston faxing records",
                                  "seen by the night nurse, the wound team and the ICU nurse",
                                  "PROGRESS NOTE 6/13/2016 late entry\nDischarge summary 3/4/2020 addendum"])
def test_place_pass_leaves_headings_and_findings_alone(text):
    from medllm_local.stages.deid.context import ContextFinder

    assert not [f for f in ContextFinder().find(text) if f.text.lower() in ("pmh", "neg", "bedside", "baseline",
                                                                           "faxing", "boston faxing")], text


def test_a_town_is_not_extended_over_the_verb_after_it(engine):
    found = engine.find("PLAN: osh in ipswich faxing records")
    assert [f.text for f in found if f.type in ("LOCATION", "FACILITY")] == ["ipswich"]


def test_the_phone_recognizer_fed_digit_lines_finds_what_it_finds_in_the_whole_text():
    """The engine gives Presidio's phone matcher only the lines with a digit run (for
    speed); on real notes plus every phone form we know it must find the same numbers
    (what it leaves has under six digits: the whole-text matcher takes "BP: 169/74")."""
    import csv

    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from conftest import SHARED_DATA
    from medllm_local.stages.deid.engine import _read_digit_runs_only

    whole, by_line = PhoneRecognizer(), PhoneRecognizer()
    _read_digit_runs_only(by_line)
    aci = SHARED_DATA / "aci_bench" / "train.csv"
    notes = [row["note"] for row in csv.DictReader(aci.open(encoding="utf-8"))][:40]
    forms = ("call +44 20 7946 0958 tomorrow\nring 020 7946 0958; +91 98765 43210\n"
             "daughter (617) 555-0134 ext. 4091, cell 617.555.0188 X22\n"
             "tel. 06 12 34 56 78 / +49 30 901820\nBP 128/70 HR 84 on 12/05/2020")
    found = 0
    for text in notes + [forms]:
        expected = sorted((r.start, r.end) for r in whole.analyze(text, ["PHONE_NUMBER"])
                          if sum(c.isdigit() for c in text[r.start:r.end]) >= 6)
        assert sorted((r.start, r.end) for r in by_line.analyze(text, ["PHONE_NUMBER"])) == expected
        found += len(expected)
    assert found >= 6


def test_without_the_english_ner_the_clinical_ner_and_rules_still_find_the_names():
    """--no-english-ner (twice the speed): spaCy only tokenises, nothing comes from its NER."""
    from medllm_local.stages.deid.engine import DeidEngine, DeidSettings

    engine = DeidEngine(DeidSettings(english_ner=False))
    assert "ner" not in engine.analyzer.nlp_engine.nlp["en"].pipe_names
    note = ("Seen with her daughter Wiktoria Szymborska today. Dr. Okonjo reviewed the CT.\n"
            "PT LETHARGIC, CALLED MARISOL AT 0300; MRN 55123987")
    findings = engine.find(note)
    assert not [f for f in findings if f.recognizer == "SpacyRecognizer"]
    for name in ("Wiktoria Szymborska", "Okonjo", "MARISOL", "55123987"):
        assert any(name in f.text for f in findings), (name, findings)


@pytest.mark.parametrize("text, address", [
    ("Social: lives at 12 Birch Rd. unit 4B with wife", "12 Birch Rd. unit 4B"),    # the rule's span kept whole
    ("located near 194 yarborough road apt 29a", "194 yarborough road apt 29a"),  # a street merged into a name
])
def test_a_street_keeps_its_unit(engine, text, address):
    assert any(address in f.text for f in engine.find(text)), engine.find(text)
