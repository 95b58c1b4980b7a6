"""pier sample app: Procfile only (no buildpack language markers at the root)."""
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (
            "pier sample app: procfile\n"
            f"greeting: {os.environ.get('GREETING', 'none')}\n"
            f"dyno: {os.environ.get('DYNO', 'unknown')}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


port = int(os.environ["PORT"])
print(f"procfile sample listening on port {port}", flush=True)
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
