"""The Gradio app: one tab per pipeline stage, in pipeline order, each built by its own
module (ui/<stage>_tab.py), and the serving (loopback by default, login, TLS).

The tabs only build widgets and bind events. Every action calls the same pipeline
functions as the CLI; forms are built from the stages' settings dataclasses, so an option
added to a stage appears here with no edit. Served on 127.0.0.1 unless the user says
otherwise, with no outside assets (system fonts, no analytics).
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

from medllm_local import pipeline
from medllm_local.core import offline
from medllm_local.pipeline.overview import next_step, workspace_steps
from medllm_local.ui import access
from medllm_local.ui.chat_tab import build_chat_tab
from medllm_local.ui.clean_tab import build_clean_tab
from medllm_local.ui.dataset_tab import build_dataset_tab
from medllm_local.ui.deid_tab import build_deid_tab
from medllm_local.ui.eval_tab import build_eval_tab
from medllm_local.ui.export_tab import build_export_tab
from medllm_local.ui.ingest_tab import build_ingest_tab
from medllm_local.ui.settings_tab import build_settings_tab
from medllm_local.ui.train_tab import build_train_tab
from medllm_local.workspace.store import UPLOADS_FOLDER, Workspace

DISCLAIMER = (
    "This assistant supports, and does not replace, clinical judgement. "
    "Everything runs on this computer; nothing leaves it."
)


DEFAULT_USER = "medllm"  # the login's user name unless --user says otherwise


def path_line(steps: list) -> str:
    """The slim line at the top: each step of the path, done or not, with a few words."""
    return " → ".join(f"{'✓' if step.done else '○'} **{step.name}** ({step.detail})" for step in steps)


NEXT_ACTION = {"reports": "add reports", "review": "review and approve", "clean": "clean",
               "dataset": "build the dataset", "train": "train", "evaluate": "evaluate",
               "export": "export", "chat": "chat"}


def next_label(steps: list) -> str:
    """The button under the path line: the step to take next, with its count."""
    step = next(s for s in steps if s.name == next_step(steps))
    return f"Next: {NEXT_ACTION[step.name]} ({step.detail})"


def build_app(workspace: Workspace):
    import gradio as gr

    with gr.Blocks(title="medllm-local", analytics_enabled=False) as app:
        gr.Markdown(f"# medllm-local\n{DISCLAIMER}", elem_id="header")
        steps = workspace_steps(workspace)
        path = gr.Markdown(path_line(steps), elem_id="path-line")
        next_button = gr.Button(next_label(steps), size="sm", elem_id="next-step")

        def path_view():  # the workspace read once for both
            steps = workspace_steps(workspace)
            return path_line(steps), next_label(steps)

        # Each tab gives the refreshers that read the workspace as it is now: run when a
        # page opens (the tabs were built when the app started: a reload or a new session
        # must not show that old state) and when the tab is chosen (what another tab or a
        # job changed meanwhile; not Dataset's filtered table nor Settings' unsaved edits).
        # (label, the step of the path it serves, builder, refresh when chosen)
        tabs = [("Documents", "reports", build_ingest_tab, True),
                ("Review", "review", build_deid_tab, True),
                ("Clean", "clean", build_clean_tab, True),
                ("Dataset", "dataset", build_dataset_tab, False),
                ("Train", "train", build_train_tab, True),
                ("Evaluate", "evaluate", build_eval_tab, True),
                ("Export", "export", build_export_tab, True),
                ("Chat", "chat", build_chat_tab, True),
                ("Settings", "settings", build_settings_tab, False)]
        # the app opens on the step the workspace is at when it starts: Documents for a new one
        with gr.Tabs(selected=next_step(steps)) as tabs_box:
            for label, step, build, on_select in tabs:
                with gr.Tab(label, id=step, elem_id=f"tab-{label.lower()}") as tab:
                    refreshers = build(workspace)
                tab.select(path_view, None, [path, next_button], show_progress="hidden",
                           api_visibility="private", concurrency_limit=None)
                for refresh, outputs in refreshers:
                    # reads only: never queued behind a running job
                    app.load(refresh, None, outputs, show_progress="hidden",
                             api_visibility="private", concurrency_limit=None)
                    # a table of the workspace changed (an ingest, an import, a job's end):
                    # the path line says so at once, not at the next change of tab
                    for table in (c for c in outputs if isinstance(c, gr.Dataframe)):
                        table.change(path_view, None, [path, next_button], show_progress="hidden",
                                     api_visibility="private", concurrency_limit=None)
                    if on_select:
                        tab.select(refresh, None, outputs, show_progress="hidden",
                                   api_visibility="private", concurrency_limit=None)
        # (the tab is chosen when the app starts, not when a page loads: a late switch would
        # pull the page away from a tab its user has just chosen)
        app.load(path_view, None, [path, next_button], show_progress="hidden",
                 api_visibility="private", concurrency_limit=None)
        # the next action is a click away: the button opens its tab
        next_button.click(lambda: gr.Tabs(selected=next_step(workspace_steps(workspace))), None, tabs_box,
                          show_progress="hidden", api_visibility="private")
    return app


def offline_theme():
    """The default look with system fonts: the stock theme would fetch web fonts."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def launch_app(host: str = "127.0.0.1", port: int = 7860, workspace: str | Path | None = None,
               password: str | None = None, block: bool = True, user: str = DEFAULT_USER,
               ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
    """Open the workspace and serve the app; returns the Gradio app when not blocking."""
    loopback = offline.is_loopback_host(host)
    if not loopback and not password:
        raise ValueError(f"serving on {host} makes the app reachable from other computers; "
                         "set a password (MEDLLM_PASSWORD or --password) to do that")
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise ValueError("TLS needs both --ssl-certfile and --ssl-keyfile")
    served = access.url_host(host)  # one spelling for the bind, the URL and the Host check
    if not loopback:
        offline.allow_host(served)  # the user chose to serve on this address
    ws = pipeline.open_workspace(workspace)
    # Uploads are patient files: keep Gradio's copies inside the owner-only workspace
    # (the UI deletes each upload once ingested), never in a shared /tmp folder.
    os.environ["GRADIO_TEMP_DIR"] = str(ws.temp_folder(UPLOADS_FOLDER))
    app = build_app(ws)

    def login(given_user: str, given_password: str) -> bool:
        # compare_digest: the time taken does not tell how much of a guess was right.
        return (hmac.compare_digest(given_user.encode(), user.encode())
                & hmac.compare_digest(given_password.encode(), (password or "").encode()))

    auth = login if password else None
    from starlette.middleware import Middleware

    middleware = [Middleware(access.HostCheck, served_host=served)]
    if password:
        middleware.append(Middleware(access.LoginThrottle))
    scheme = "https" if ssl_certfile else "http"
    print(json.dumps({"serving": f"{scheme}://{served}:{port}", "workspace": str(ws.root)}),
          flush=True)
    app.queue(default_concurrency_limit=1).launch(
        server_name=served, server_port=port, share=False, inbrowser=False, auth=auth,
        theme=offline_theme(), prevent_thread_lock=not block, show_error=True,
        footer_links=[], ssr_mode=False, app_kwargs={"middleware": middleware},
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        # Gradio's one start-up request to itself would reject a self-signed certificate.
        ssl_verify=not ssl_certfile,
        # Exported conversations are the one workspace folder the browser may download from.
        allowed_paths=[str(ws.folder("exports") / pipeline.CONVERSATIONS)],
    )
    return app
