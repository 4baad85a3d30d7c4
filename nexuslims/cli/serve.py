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
    from nexuslims.web import create_app, load_web_settings

    web = load_web_settings(read_environment(args.env_file))
    assert web.settings.db_url is not None
    engine = db.make_engine(web.settings.db_url)  # an unreachable database fails here
    db.require_head(engine)
    host = args.host or web.host
    port = args.port or web.port
    if web.auth == "header" and host not in ("127.0.0.1", "::1", "localhost"):
        logging.getLogger("nexuslims").warning(
            "NX_WEB_AUTH=header trusts %s from anyone who reaches %s: only a reverse proxy "
            "should (bind 127.0.0.1)", web.user_header, host)
    logging.getLogger("nexuslims").info("serving on http://%s:%d%s/", host, port,
                                        web.root_path)
    try:
        uvicorn.run(create_app(web, engine), host=host, port=port, root_path=web.root_path,
                    log_level="warning" if args.quiet else "info", proxy_headers=True,
                    forwarded_allow_ips="127.0.0.1", access_log=not args.quiet)
    finally:
        engine.dispose()
    return 0
