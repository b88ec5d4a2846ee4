"""The pipeline's stages, one module or package each, in the order a report passes through them:
ingest, deid, clean, dataset, train, evaluate, export, chat. Plain functions over core records;
no stage imports the workspace, the pipeline or a face."""
