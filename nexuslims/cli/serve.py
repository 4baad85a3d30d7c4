"""``nexuslims serve``: the web pages, the JSON API and session logging over HTTP."""

from __future__ import annotations

import argparse


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common],
                       help="serve the web pages: records, builder, session logging API",
                       description="Serve records, the builder's state and the session-logging "
                       "API over HTTP (uvicorn). Reads the database, records and previews the "
                       "builder writes; never writes a record. Binds 127.0.0.1 unless told "
                       "otherwise: put nginx or Apache in front to serve others.")
    p.add_argument("--host", default=None,
                   help="address to listen on (default: NX_WEB_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: NX_WEB_PORT or 8080)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from nexuslims import db
    from nexuslims.config import read_environment
    from nexuslims.errors import ConfigError
    from nexuslims.web import create_app, load_web_settings
    from nexuslims.web.settings import is_loopback

    web = load_web_settings(read_environment(args.env_file))
    host = args.host or web.host
    port = args.port or web.port
    if web.auth == "header" and not is_loopback(host) and not web.trusted_proxies_set:
        # Anyone who reaches the address could send the user header themselves.
        raise ConfigError([f"NX_WEB_AUTH=header on {host} needs NX_WEB_TRUSTED_PROXIES "
                           "(the reverse proxy's addresses, the only ones whose "
                           f"{web.user_header} is believed); or bind 127.0.0.1 behind the "
                           "proxy"])
    assert web.settings.db_url is not None
    engine = db.make_engine(web.settings.db_url)  # an unreachable database fails here
    db.require_head(engine)
    logging.getLogger("nexuslims").info("serving on http://%s:%d%s/", host, port,
                                        web.root_path)
    try:
        uvicorn.run(create_app(web, engine), host=host, port=port, root_path=web.root_path,
                    log_level="warning" if args.quiet else "info",
                    # The app believes X-Forwarded-* itself, from NX_WEB_TRUSTED_PROXIES only.
                    proxy_headers=False, access_log=not args.quiet)
    finally:
        engine.dispose()
    return 0
