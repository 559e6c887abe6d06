"""``icewatch serve``: the composition root, running everything on one event loop.

Start-up, in an order that fails fast and cheaply:

1. bind the HTTP sockets (a port in use ends here, before any file is touched);
2. open the store (``db`` URL) and load or create the persistent server secret;
3. open the correlation state (``state`` URL) and start the observation pump;
4. start the STUN/TURN listener on UDP and TCP, feeding the pump;
4b. load the IP-intelligence data and the operator lists (a bad list stops here with
   exit 2; missing or stale data is a warning); SIGHUP reloads both;
5. build the web app around a :class:`~icewatch.web.context.WebContext` and run it on
   uvicorn with the sockets of step 1.

Shutdown on SIGINT/SIGTERM runs the same steps backwards: uvicorn stops accepting and
lets in-flight requests finish (``shutdown_timeout``); then the listener closes, the
pump writes what it holds, the state closes and the store closes (which finishes its
acknowledged writes). A second SIGINT forces uvicorn to stop waiting.

Every start-up failure the operator can fix becomes a :class:`StartupError`: one line
on stderr, exit code 1 (2 for bad settings), no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from icewatch import __version__
from icewatch.core.ports import SessionStore
from icewatch.core.stun.server import ServerConfig
from icewatch.core.verdict import Level
from icewatch.intel.enrich import make_enricher
from icewatch.intel.files import default_data_dir
from icewatch.intel.lists import ListError
from icewatch.intel.runtime import IntelRuntime, RuntimeHolder, load_runtime, reload_into
from icewatch.listener import start_listener
from icewatch.peer import AiortcPeerService
from icewatch.service.binding import bind_error_message, bind_tcp, url_host
from icewatch.service.errors import EXIT_CONFIG, EXIT_OK, StartupError
from icewatch.service.housekeeping import start_housekeeping
from icewatch.service.logformat import formatter
from icewatch.service.pump import ObservationPump
from icewatch.service.rate import RateValue
from icewatch.service.settings import Settings
from icewatch.service.webhooks import WebhookConfig, WebhookWorker
from icewatch.store import StoreError, mask_url, open_state, open_store
from icewatch.store.url import parse_sqlite_url
from icewatch.web import create_app
from icewatch.web.context import WebContext, WebSettings
from icewatch.web.metrics import Metrics
from icewatch.web.useragent import enrich_user_agent
from icewatch.web.useragent import warm_up as warm_up_user_agents

__all__ = ["Endpoints", "run", "serve"]

log = logging.getLogger("icewatch.service")

SECRET_NAME = "master"  # noqa: S105 - the name the secret is stored under
SECRET_BYTES = 32
ANY_ADDRESS = frozenset({"0.0.0.0", "::"})  # noqa: S104 - recognised, not bound here


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a running service listens (printed on start)."""

    http: tuple[tuple[str, int], ...]
    stun: tuple[str, int]
    intel: str = "none"  # which IP-intelligence data answers (and the operator lists)

    @property
    def page_url(self) -> str:
        host, port = self.http[0]
        return f"http://{url_host(host)}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the service owns the signals
    (uvicorn's would re-raise SIGTERM after serving, killing the process before the
    listener and the store are closed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return None
    return uvloop.new_event_loop


#: Third-party loggers quiet below ``debug`` (see :func:`configure_logging`).
_CHATTY_LOGGERS = ("aioice", "aiortc")


def configure_logging(level: str, stream: TextIO | None = None, log_format: str = "text") -> None:
    """Log lines to stderr: ``time level logger: message``, or one JSON object a line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The WebRTC stack logs every ICE candidate pair's state change at INFO: lines per
    # test connection, about no one's business but a debugging session. They show at
    # ``debug``; otherwise only their warnings do.
    chatty = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty)


def run(settings: Settings, *, out: TextIO | None = None) -> int:
    """Run the service until SIGINT/SIGTERM; return the process exit code."""
    configure_logging(settings.log_level, log_format=settings.log_format)
    out = out or sys.stdout
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(serve(settings, announce=lambda e: _announce(settings, e, out)))
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:  # a SIGINT before the handlers were installed
        return 130


def data_dir_of(settings: Settings) -> Path:
    """The IP-intelligence data directory: the setting, else the XDG default."""
    return settings.data_dir if settings.data_dir is not None else default_data_dir()


def _load_intel(settings: Settings) -> IntelRuntime:
    """IP intelligence for the enricher; a bad operator list stops the start (exit 2)."""
    try:
        runtime = load_runtime(
            data_dir_of(settings), settings.lists, stale_days=settings.data_stale_days
        )
    except ListError as exc:
        raise StartupError(str(exc), EXIT_CONFIG) from None
    for warning in runtime.warnings:
        log.warning("IP intelligence: %s", warning)
    return runtime


@contextlib.contextmanager
def _reload_on_sighup(holder: RuntimeHolder, settings: Settings) -> Iterator[None]:
    """SIGHUP re-reads the compiled data and the operator lists (in a worker thread)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Future[bool]] = set()

    def reload() -> None:
        log.info("SIGHUP: reloading IP intelligence")
        task = loop.run_in_executor(
            None,
            lambda: reload_into(
                holder, data_dir_of(settings), settings.lists, stale_days=settings.data_stale_days
            ),
        )
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, reload)
        installed = True
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGHUP)


def _announce(settings: Settings, endpoints: Endpoints, out: TextIO) -> None:
    stun_host, stun_port = endpoints.stun
    lines = [
        f"icewatch {__version__} serving {endpoints.page_url} "
        f"and STUN/TURN on {url_host(stun_host)}:{stun_port} (udp, tcp)",
    ]
    for host, port in endpoints.http:
        lines.append(f"  page      http://{url_host(host)}:{port}/")
    base = endpoints.page_url
    lines += [
        f"  api       {base}api/v1/sessions  (OpenAPI: {base}openapi.json)",
        f"  dashboard {base}dashboard"
        + ("" if settings.api_key else "  (closed: set api_key to open it)"),
        f"  health    {base}healthz",
        f"  stun      stun:{url_host(stun_host)}:{stun_port}",
        f"  turn      turn:{url_host(stun_host)}:{stun_port}?transport=udp|tcp "
        "(per-session credentials; never relays)",
        f"  database  {_where(settings.db)}",
        f"  ip intel  {endpoints.intel}",
    ]
    if settings.public_host:
        lines.append(f"  browsers are told STUN/TURN is at {settings.public_host}:{stun_port}")
    if {settings.host, stun_host} & ANY_ADDRESS:
        lines.append("  (0.0.0.0 / :: means every address of this machine)")
    if settings.webhook_url is not None:
        lines.append(f"  webhooks  level >= {settings.webhook_level}, signed (Icewatch-Signature)")
    if settings.api_key is None:
        lines.append("  operator API closed (no api_key set)")
    lines.append("Stop with Ctrl+C (or SIGTERM): in-flight reports are finished first.")
    out.write("\n".join(lines) + "\n")
    out.flush()


def _where(url: str) -> str:
    """A store URL, with the absolute file it names (``sqlite:///icewatch.db`` is relative)."""
    try:
        target = parse_sqlite_url(url)
    except StoreError:
        return mask_url(url)
    if target.in_memory:
        return url
    return f"{url} ({Path(target.path).resolve()})"


class _Stopper:
    """SIGINT/SIGTERM → stop the server gracefully; a second SIGINT forces it."""

    def __init__(self) -> None:
        self.requested = False
        self.server: _Server | None = None

    def __call__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.requested and signum == signal.SIGINT and self.server is not None:
            log.warning("%s again: not waiting for in-flight requests", name)
            self.server.force_exit = True
            return
        if not self.requested:
            log.info("%s: shutting down", name)
        self.requested = True
        if self.server is not None:
            self.server.should_exit = True


@contextlib.contextmanager
def _signals(stopper: _Stopper) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopper, int(sig))
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _startup_step(what: str, step: Awaitable[Any]) -> Any:
    """Await one start-up step, turning its failure into one clear line."""
    try:
        return await step
    except StartupError:
        raise
    except StoreError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"{what}: {exc.strerror or exc}") from None
    except Exception as exc:
        log.debug("%s failed", what, exc_info=True)
        raise StartupError(f"{what}: {exc}") from None


def web_settings(settings: Settings) -> WebSettings:
    """The web adapter's share of the settings."""
    return WebSettings(
        public_host=settings.public_host,
        stun_port=settings.stun_port,
        api_key=settings.api_key,
        trusted_proxies=settings.trusted_proxies,
        forwarded_header=settings.forwarded_header,
        session_ttl=settings.session_ttl,
        report_wait=settings.report_wait,
        collector_deadline_ms=settings.collector_deadline_ms,
        max_body_bytes=settings.max_body_bytes,
        cors_origins=settings.cors_origins,
        signal_weights=settings.signal_weights,
        peer_deadline=settings.peer_deadline,
        dashboard_login_ttl=settings.dashboard_login_ttl,
        rate_limit_sessions=_rate(settings.rate_limit_sessions),
        rate_limit_login=_rate(settings.rate_limit_login),
    )


def _rate(value: RateValue) -> tuple[int, float] | None:
    """A rate setting as the web adapter takes it: ``None`` when off."""
    return (value[0], value[1]) if len(value) == 2 else None


def _webhooks(settings: Settings, store: SessionStore) -> WebhookWorker | None:
    """The webhook worker when ``webhook_url`` is set; bad settings stop the start."""
    if settings.webhook_url is None:
        return None
    if settings.webhook_secret is None:
        raise StartupError("webhook_url is set but webhook_secret is not", EXIT_CONFIG)
    try:
        return WebhookWorker(
            store,
            WebhookConfig(
                url=settings.webhook_url,
                secret=settings.webhook_secret,
                level=Level(settings.webhook_level),
                queue_max=settings.webhook_queue_max,
                timeout=settings.webhook_timeout,
                retry_base=settings.webhook_retry_base,
                max_age=float(settings.webhook_max_age),
            ),
        )
    except ValueError as exc:
        raise StartupError(f"invalid webhook settings: {exc}", EXIT_CONFIG) from None


def _peer_addresses(host: str) -> list[str] | None:
    """The addresses the test connection's peers bind: the STUN listener's when it is a
    specific address; every interface (aioice's choice) for a wildcard."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a host name: let aioice enumerate the interfaces
        return None
    return None if address.is_unspecified else [str(address)]


async def serve(settings: Settings, *, announce: Callable[[Endpoints], None] | None = None) -> int:
    """Run the service on the running loop until a signal; raise :class:`StartupError`."""
    stopper = _Stopper()
    with _signals(stopper):
        async with contextlib.AsyncExitStack() as stack:
            sockets = bind_tcp(settings.host, settings.port)
            stack.callback(_close_all, sockets)
            http = tuple((str(s.getsockname()[0]), int(s.getsockname()[1])) for s in sockets)

            store = await _startup_step(
                f"cannot open the database {settings.db}", open_store(settings.db)
            )
            stack.push_async_callback(store.close)
            secret: bytes = await _startup_step(
                "cannot read the server secret",
                store.server_secret(SECRET_NAME, secrets.token_bytes(SECRET_BYTES)),
            )
            state = await _startup_step(
                f"cannot open the correlation state {settings.state}", open_state(settings.state)
            )
            stack.push_async_callback(state.close)
            pump = ObservationPump(state, settings.observation_queue)
            pump.start()
            stack.push_async_callback(pump.close)

            stun_host = settings.stun_bind_host
            try:
                listener = await start_listener(
                    stun_host,
                    settings.stun_port,
                    ServerConfig(secret=secret, realm=settings.realm),
                    pump.offer,
                    clock=time.time,
                )
            except OSError as exc:
                raise StartupError(
                    bind_error_message("STUN/TURN", stun_host, settings.stun_port, exc)
                ) from None
            listening = [True]

            async def close_listener() -> None:
                listening[0] = False
                await listener.close()

            stack.push_async_callback(close_listener)

            intel = RuntimeHolder(_load_intel(settings))
            stack.enter_context(_reload_on_sighup(intel, settings))

            warm_up_user_agents()  # the parser's rules, before the first report
            peer: AiortcPeerService | None = None
            if settings.test_connection:
                try:  # also imports aiortc now (0.3-0.5 s), not on the first offer
                    peer = AiortcPeerService(
                        on_observation=pump.offer,
                        clock=time.time,
                        max_peers=settings.peer_max,
                        pings=settings.peer_pings,
                        host_addresses=_peer_addresses(stun_host),
                    )
                except ValueError as exc:
                    raise StartupError(f"invalid peer settings: {exc}", EXIT_CONFIG) from None
                stack.push_async_callback(peer.close)
            metrics = Metrics(public=settings.metrics_public)
            metrics.add_listener_stats(listener.stats.as_dict)
            metrics.add_intel_data(
                lambda: (intel.current.built_at, intel.current.origin, intel.current.version)
            )
            try:  # retention and store_addresses (docs/privacy.md)
                housekeeping = await start_housekeeping(
                    store,
                    retention=settings.retention,
                    interval=settings.housekeeping_interval,
                    store_addresses=settings.store_addresses,
                    random_bytes=secrets.token_bytes,
                )
            except ValueError as exc:
                raise StartupError(f"invalid privacy settings: {exc}", EXIT_CONFIG) from None
            stack.push_async_callback(housekeeping.close)  # closed before the store
            metrics.registry.register(housekeeping.collector())
            webhooks = _webhooks(settings, store)
            if webhooks is not None:
                metrics.registry.register(webhooks.collector())
                webhooks.start()  # pending events of an earlier run go out now
                stack.push_async_callback(webhooks.close)  # closed before the store
            try:
                context = WebContext(
                    store=store,
                    state=state,
                    secret=secret,
                    clock=time.time,
                    random_bytes=secrets.token_bytes,
                    listener_ready=lambda: listening[0],
                    settings=web_settings(settings),
                    enrichers=(make_enricher(intel), enrich_user_agent),
                    peer=peer,
                    metrics=metrics,
                    webhooks=webhooks,
                )
                app = create_app(context)
            except (ValueError, TypeError) as exc:  # a value the web adapter refuses
                raise StartupError(f"invalid web settings: {exc}", EXIT_CONFIG) from None
            config = uvicorn.Config(
                app,
                loop="none",
                lifespan="on",
                log_config=None,
                log_level=settings.log_level,
                access_log=settings.access_log,
                proxy_headers=False,  # the web app honours trusted proxies itself
                server_header=False,
                timeout_graceful_shutdown=settings.shutdown_timeout,
            )
            server = _Server(config)
            stopper.server = server
            if stopper.requested:
                return EXIT_OK
            if announce is not None:
                announce(
                    Endpoints(
                        http=http,
                        stun=(stun_host, settings.stun_port),
                        intel=intel.current.description,
                    )
                )
            try:
                await server.serve(sockets=sockets)
            except SystemExit as exc:  # uvicorn exits when the app's lifespan fails
                raise StartupError(f"the web app failed to start (code {exc.code})") from None
            if not server.started and not stopper.requested:
                raise StartupError("the web server did not start")
            log.info("HTTP stopped; closing the listener, the state and the store")
    log.info(
        "stopped: %d observation(s) recorded, %d dropped (queue full), %d failed",
        pump.stats.written,
        pump.stats.dropped,
        pump.stats.failed,
    )
    return EXIT_OK


def _close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()
