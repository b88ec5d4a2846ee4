"""Runs stages against a workspace. The CLI and the UI call only this layer; its modules
carry the names of the stages they serve (ingest, deid, clean, dataset, augment, train,
evaluate, export, chat, similar), plus jobs, pairs, feedback, forget, demo and common.

Each function here resolves its inputs (a workspace, a model name), calls one stage
function and returns that stage's records; it holds no stage logic of its own.
"""

from medllm_local.pipeline.similar import similar_cases
from medllm_local.pipeline.chat import (CONVERSATIONS, chat_answer, chat_differential,
                                             chat_stream, export_conversation, models_report,
                                             check_model, add_model)
from medllm_local.pipeline.clean import (CleanedDocument, CleanReport, DocumentCleaning, RevertReport,
                                            clean_documents, cleaning_overview, document_cleaning,
                                            page_image, page_text, revert_changes, training_text,
                                            transcribe_page, transcription_queue)
from medllm_local.pipeline.common import DEMO_INBOX, GateError, ProgressCallback, open_workspace
from medllm_local.pipeline.augment import review_augmented
from medllm_local.pipeline.dataset import build_dataset, freeze_test_split, revise_pair
from medllm_local.pipeline.demo import STAGES, run_demo
from medllm_local.pipeline.ingest import ImportReport, IngestReport, import_cases, ingest
from medllm_local.pipeline.evaluate import (EvalReport, EvalSet, ModelHistory, eval_models, eval_sets, mark_answer, marks_summary, model_history,
                                           save_eval_set)
from medllm_local.pipeline.export import ExportSummary, export_run, list_exports
from medllm_local.pipeline.forget import forget_documents, forgotten_in
from medllm_local.pipeline.jobs import job_log_tail, job_report, latest_job, start_job, stop_job
from medllm_local.pipeline.train import (RunSummary, latest_build, list_runs, plan_training, run_metrics,
                                            train_run)
from medllm_local.pipeline.deid import (SURROGATE_KEY, SURROGATE_MAP, ApprovalReport, DeidReport,
                                           DocumentReview, RejectionReport, ReviewedFinding,
                                           approve_documents,
                                           deid_documents, deid_files, finding_json,
                                           reject_everywhere, rejected_texts,
                                           require_approved, residual_scan, review_document,
                                           revise_document, save_deid_options,
                                           saved_deid_settings)

__all__ = ["CONVERSATIONS", "DEMO_INBOX", "SURROGATE_KEY", "SURROGATE_MAP", "GateError",
           "ProgressCallback", "ApprovalReport", "DeidReport", "EvalReport", "ModelHistory", "approve_documents", "build_dataset", "freeze_test_split", "revise_pair",
           "chat_answer", "chat_stream", "deid_documents", "deid_files", "finding_json",
           "ImportReport", "IngestReport", "import_cases", "ingest", "models_report", "check_model", "add_model", "open_workspace", "require_approved",
           "reject_everywhere", "rejected_texts", "residual_scan", "run_demo", "STAGES", "review_document", "revise_document",
           "save_deid_options", "saved_deid_settings", "job_log_tail", "job_report", "latest_job", "start_job", "stop_job", "latest_build",
           "EvalSet", "ExportSummary", "RunSummary",
           "list_runs", "plan_training", "run_metrics", "train_run", "export_run", "list_exports", "eval_models", "eval_sets", "save_eval_set", "mark_answer", "marks_summary", "model_history",
           "chat_differential", "export_conversation", "similar_cases",
           "DocumentReview", "RejectionReport", "ReviewedFinding",
           "CleanedDocument", "CleanReport", "DocumentCleaning", "RevertReport",
           "clean_documents", "cleaning_overview", "document_cleaning", "page_image", "page_text", "revert_changes", "training_text",
           "transcribe_page", "transcription_queue", "review_augmented", "forget_documents",
           "forgotten_in"]
