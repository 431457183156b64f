"""A Flask app: the Python buildpack installs requirements.txt and runs the Procfile's web line."""

import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return f"Hello from Python on branch {os.environ.get('PAAS_BRANCH', 'main')}!\n"


@app.get("/healthz")
def healthz() -> str:
    return "ok\n"
