import sys

from pipeline.cli.main import app

sys.exit(app())
