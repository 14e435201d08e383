"""`runofshow serve` (the war room on the web) and `runofshow token create|list|revoke` (who may
log in, with which role)."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        help="ledger URL (sqlite:///path or postgresql+psycopg://...); default: plan.state, "
        "$RUNOFSHOW_STATE, or runofshow.db beside ./evidence",
    ),
]
DEFAULT_LISTEN = "127.0.0.1:8700"


def host_port(listen: str) -> tuple[str, int]:
    from runofshow.domain.addresses import split_listen
    from runofshow.errors import InputError

    try:
        host, port = split_listen(listen.strip())
    except ValueError as err:
        raise InputError(f"--listen: {err}") from None
    if port == 0:
        raise InputError(f"--listen: '{listen}' needs a port from 1 to 65535 (e.g. {DEFAULT_LISTEN})")
    return host, port


def slack_endpoint(plan: Any, env: Any, ledger: Any = None) -> Any:
    """`/slack/actions`' parts (None without a Slack signing secret: the route answers 404). A SQL
    ledger also keeps the signed requests already taken, so a replay to another replica is refused."""
    from runofshow.app.bootstrap import build_slack_endpoint
    from runofshow.ports import SeenRequests
    from runofshow.web.config import SlackEndpoint

    parts = build_slack_endpoint(plan, env, ledger if isinstance(ledger, SeenRequests) else None)
    return None if parts is None else SlackEndpoint(*parts)


def serve(
    state: StateOpt = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on")] = DEFAULT_LISTEN,
    plan_path: Annotated[
        Path | None, typer.Option("--plan", help="plan file (its state URL and incident commanders)")
    ] = None,
    public_read: Annotated[
        bool, typer.Option("--public-read", help="pages and GET API readable without logging in (read-only)")
    ] = False,
) -> None:
    """Serve the war room on the web: the release board, live run pages, the JSON API and the
    incident commander's actions, over the same ledger as the runner (which may be in another
    process or on another machine). Log in with a token from `runofshow token create`.

    Example: runofshow serve --state postgresql://runofshow@db/runofshow --listen 127.0.0.1:8700

    Session cookies are signed with $RUNOFSHOW_WEB_SECRET (set it, the same for every replica);
    behind a TLS proxy set RUNOFSHOW_WEB_SECURE_COOKIE=1. Reading needs a login too (any role;
    observers read only), unless --public-read. Each run's plan (`war_room`: ic, incident
    commanders, members, observers) gives the people it names their role in that run; a token's
    role counts for the others. With $SLACK_SIGNING_SECRET set, the war
    room's Slack buttons post to /slack/actions (SLACK_BOT_TOKEN opens the rollback's reason form).
    """
    import gc

    import uvicorn

    from runofshow.app import bootstrap, settings
    from runofshow.web import WebDeps, create_app, web_settings

    host, port = host_port(listen)
    plan = None
    if plan_path is not None:
        from runofshow.app.plan_file import load_plan

        plan = load_plan(plan_path)
    env = settings.environment()
    url = bootstrap.resolve_state_url(state, plan, env)
    ledger, tokens = bootstrap.open_war_room(url)
    deps = WebDeps(
        ledger=ledger,
        tokens=tokens,
        settings=web_settings(env, public_read=public_read),
        plan=plan,
        decision_ports=lambda p, action: bootstrap.decision_ports(p, action, env),
        slack=slack_endpoint(plan, env, ledger),
    )
    app = create_app(deps)
    # what start-up made (modules, the app) lives as long as the process: out of the collector's
    # way, so that reading a long run's thousands of events is not slowed by full collections over it
    gc.freeze()
    print(f"runofshow war room on http://{host}:{port}/ (ledger {getattr(ledger, 'name', url)})", flush=True)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            proxy_headers=True,
            server_header=False,
        )
    finally:
        close = getattr(ledger, "close", None)
        if callable(close):
            close()


def serve_beside(ledger: Any, plan: Any, listen: str = DEFAULT_LISTEN) -> tuple[str, str, Callable[[], None]]:
    """The war room on the web in this process, beside a run (`runofshow demo`): a new IC token for
    the plan's first incident commander; returns (URL, token, stop). A busy port: a free one."""
    import socket
    import threading
    import time

    import uvicorn

    from runofshow.app import bootstrap, settings
    from runofshow.app.warroom.identity import create_token
    from runofshow.web import WebDeps, create_app, web_settings

    host, port = host_port(listen)
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
    env = settings.environment()
    token, _ = create_token(ledger, plan.war_room.incident_commanders[0], "ic")
    deps = WebDeps(ledger=ledger, tokens=ledger, settings=web_settings(env), plan=plan,
                   decision_ports=lambda p, action: bootstrap.decision_ports(p, action, env),
                   slack=slack_endpoint(plan, env, ledger))
    server = uvicorn.Server(uvicorn.Config(create_app(deps), host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="war-room-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(5)

    return f"http://{host}:{port}/", token, stop


token_app = typer.Typer(
    help="API tokens of the war-room web app: create (shown once), list, revoke.", no_args_is_help=True
)


def _store(state: str | None):  # type: ignore[no-untyped-def]
    from runofshow.app import bootstrap

    return bootstrap.open_war_room(bootstrap.resolve_state_url(state))[1]


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="whose token: the name decisions are recorded under")],
    role: Annotated[str, typer.Option("--role", help="ic, member or observer")],
    state: StateOpt = None,
) -> None:
    """Create a token for NAME with ROLE and print it once (only its hash is kept).

    Example: runofshow token create --name alice --role ic
    """
    from runofshow.app.warroom.identity import create_token

    token, record = create_token(_store(state), name, role)
    print(f"token {record.token_id} for {record.name} ({record.role}); shown once, keep it safe:")
    print(token, flush=True)


@token_app.command("list")
def token_list(state: StateOpt = None) -> None:
    """Every token: id, name, role, created, revoked (never the token itself).

    Example: runofshow token list
    """
    rows = _store(state).tokens()
    for t in rows:
        revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}Z" if t.revoked_at else "live"
        print(f"{t.token_id}  {t.name}  {t.role}  created {t.created_at:%Y-%m-%d %H:%M}Z  {revoked}")
    if not rows:
        print("no tokens (runofshow token create --name NAME --role ROLE)")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id, as `runofshow token list` shows it")],
    state: StateOpt = None,
) -> None:
    """Revoke a token: it stops working at once, and so do the browser sessions it opened.

    Example: runofshow token revoke 1a2b3c4d
    """
    from runofshow.app.warroom.identity import revoke_token

    found = revoke_token(_store(state), token_id)
    print(f"token {found.token_id} ({found.name}, {found.role}) revoked", flush=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")


__all__ = ["register"]
