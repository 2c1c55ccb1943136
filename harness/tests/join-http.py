#!/usr/bin/env python3
"""join-http.py - the HTTP endpoints a VM's join talks to, on loopback.

    join-http.py PORTFILE LOG BUNDLE TOKENFILE

Serves, on 127.0.0.1 (a free port, written to PORTFILE):
  /computeMetadata/v1/instance/service-accounts/default/token   (needs
      Metadata-Flavor: Google) -> an access token as JSON
  /computeMetadata/v1/instance/attributes/meshvm-istio-token    -> TOKENFILE
  /storage/v1/b/<bucket>/o/<object>?alt=media (needs the bearer token)
      -> BUNDLE
  /healthz/ready -> 200
Each request is logged to LOG as "METHOD PATH flavor=<0|1> auth=<0|1>".
"""
import http.server
import sys

portfile, logfile, bundle, tokenfile = sys.argv[1:5]
ACCESS = "ya29.http-access-token"


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        flavor = self.headers.get("Metadata-Flavor") == "Google"
        auth = self.headers.get("Authorization") == "Bearer " + ACCESS
        with open(logfile, "a") as f:
            f.write("GET %s flavor=%d auth=%d\n" % (self.path, flavor, auth))
        p = self.path
        if p.startswith("/computeMetadata/v1/"):
            if not flavor:
                return self.reply(403)
            if p.endswith("/service-accounts/default/token"):
                return self.reply(200, ('{"access_token":"%s","expires_in":'
                                        '3599,"token_type":"Bearer"}'
                                        % ACCESS).encode())
            if p.endswith("/attributes/meshvm-istio-token"):
                with open(tokenfile, "rb") as f:
                    return self.reply(200, f.read())
            return self.reply(404)
        if p.startswith("/storage/v1/b/") and p.endswith("alt=media"):
            if not auth:
                return self.reply(401)
            with open(bundle, "rb") as f:
                return self.reply(200, f.read())
        if p == "/healthz/ready":
            return self.reply(200)
        return self.reply(404)


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os  # noqa: E402
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
