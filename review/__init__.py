"""The review workbench: a small server-rendered web app where reviewers confirm or correct the labels
the pipeline was not sure of. ``dangan review`` serves it; it shares the pipeline's database."""
