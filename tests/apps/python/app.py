"""pier sample app: Python (stdlib http.server + a vendored wheel)."""
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pierhello


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        greeting = os.environ.get("GREETING", "none")
        body = (
            "pier sample app: python\n"
            f"{pierhello.hello()}\n"
            f"greeting: {greeting}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args))


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    print(f"python sample listening on port {port}")
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
