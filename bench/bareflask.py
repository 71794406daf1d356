"""The ceiling for this stack: a bare Flask endpoint, served as the mock is served.

Same server and process model as ``mockserver serve`` (mockserver/serving.py: Granian, the
same workers, threads and backpressure), and it answers every path and method with a small
JSON body after reading the request body, so the load generator can replay the very same
requests it sends to the mock. Whatever the mock costs above this is the mock's own.
"""

from __future__ import annotations

import argparse

from flask import Flask, Response, jsonify, request

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def answer(path: str) -> Response:
        request.get_data()
        return jsonify(status="ok", path=path)

    return app


def main() -> None:
    from mockserver import serving

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    arguments = parser.parse_args()
    serving.serve(create_app(), "127.0.0.1", arguments.port, arguments.workers,
                  arguments.threads)


if __name__ == "__main__":
    main()
