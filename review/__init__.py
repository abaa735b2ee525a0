"""The reviewers' web app: confirm or reject violations before anything is sent out.

Only this package imports the web framework (FastAPI / Starlette / Jinja2).
"""
