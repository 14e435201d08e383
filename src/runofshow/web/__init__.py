"""The war room on the web (`runofshow serve`): the release board, live run pages, the JSON API and
the incident commander's actions, over the same ledger as the runner. Built by `create_app(deps)`;
its dependencies come from `runofshow.app.bootstrap` (the web never builds adapters)."""

from runofshow.web.app import create_app
from runofshow.web.config import WebDeps, WebSettings, web_settings

__all__ = ["WebDeps", "WebSettings", "create_app", "web_settings"]
