"""The web dashboard embedded in the real dozor-server: / and the /assets/ files index.html links
(whatever dist the build embedded), with their security, cache and gzip headers; ETag
revalidation; a client-side route; HEAD; 404s; and the audit report shown in a frame of the same
origin. A tree configured with -DDOZOR_BUILD_DASHBOARD=OFF checks the "not built" page instead."""
import gzip
import http.client
import json
import os
import re

from harness import BIN_DIR, Server, Steps, check, log, run_test

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
       "object-src 'none'")
IMMUTABLE = "public, max-age=31536000, immutable"


def dashboard_built():
    with open(os.path.join(BIN_DIR, "CMakeCache.txt")) as f:
        return "DOZOR_BUILD_DASHBOARD:BOOL=OFF" not in f.read()


class Http:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, headers=None):
        """(status, headers as a lower-case dict, body bytes as sent: no decompression)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def check_security_headers(where, headers):
    check(headers.get("content-security-policy") == CSP, f"{where}: CSP {headers.get('content-security-policy')!r}")
    check(headers.get("x-content-type-options") == "nosniff", f"{where}: nosniff {headers}")
    check(headers.get("x-frame-options") == "DENY", f"{where}: X-Frame-Options {headers}")
    check(headers.get("referrer-policy") == "same-origin", f"{where}: Referrer-Policy {headers}")


def plain_body(where, headers, body):
    if headers.get("content-encoding") == "gzip":
        return gzip.decompress(body)
    check("content-encoding" not in headers, f"{where}: unexpected Content-Encoding {headers}")
    return body


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    web = Http(server.http_port)
    steps = Steps()

    if not dashboard_built():
        status, headers, page = web.request("GET", "/")
        check(status == 404 and b"built without its web dashboard" in page, f"not-built page: {status} {page!r}")
        log("   this tree is configured with DOZOR_BUILD_DASHBOARD=OFF: checked the not-built page only")
        return

    index = {}

    def index_page():
        status, headers, raw = web.request("GET", "/", {"Accept-Encoding": "gzip, deflate"})
        check(status == 200, f"GET / -> {status}")
        check(headers.get("content-type") == "text/html; charset=utf-8", f"GET /: {headers}")
        check(headers.get("cache-control") == "no-cache", f"GET /: Cache-Control {headers}")
        check(re.fullmatch(r'"[0-9a-f]{32}(-gzip)?"', headers.get("etag", "")), f"GET /: ETag {headers}")
        check_security_headers("GET /", headers)
        page = plain_body("GET /", headers, raw)
        check(b"<html" in page.lower(), f"GET / is not HTML: {page[:200]!r}")
        # Vite's index.html holds no inline script (the CSP would block it).
        inline = [m for m in re.findall(rb"<script\b([^>]*)>", page, re.I) if b"src=" not in m]
        check(not inline, f"index.html has inline scripts the CSP blocks: {inline}")
        index.update(page=page, etag=headers["etag"], headers=headers, raw_length=len(raw))
        _, plain_headers, plain = web.request("GET", "/")
        check("content-encoding" not in plain_headers and plain == page, "GET / without Accept-Encoding: plain")
        log(f"   / : {len(page)} bytes, {len(raw)} sent with gzip accepted")

    def assets():
        page = index["page"].decode("utf-8", "replace")
        links = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="(/assets/[^"]+)"', page)
        check(links, f"index.html links no /assets/ file: {page[:500]}")
        scripts = [link for link in links if link.endswith(".js")]
        check(scripts, f"index.html loads no script from /assets/: {links}")
        for link in links:
            status, headers, raw = web.request("GET", link, {"Accept-Encoding": "gzip"})
            check(status == 200, f"GET {link} -> {status}")
            check(headers.get("cache-control") == IMMUTABLE, f"{link}: Cache-Control {headers}")
            check_security_headers(link, headers)
            content = plain_body(link, headers, raw)
            _, plain_headers, plain = web.request("GET", link, {"Accept-Encoding": "gzip;q=0, br"})
            check("content-encoding" not in plain_headers and plain == content,
                  f"{link}: gzip;q=0 gets the same file uncompressed")
            check(int(plain_headers["content-length"]) == len(plain), f"{link}: Content-Length")
            if link.endswith(".js"):
                check(headers.get("content-type") == "text/javascript; charset=utf-8", f"{link}: {headers}")
            if link.endswith(".css"):
                check(headers.get("content-type") == "text/css; charset=utf-8", f"{link}: {headers}")
            if len(content) > 4096 and link.endswith((".js", ".css")):
                check(headers.get("content-encoding") == "gzip" and len(raw) < len(content),
                      f"{link}: {len(content)} bytes of text not sent gzip-compressed: {headers}")
                check(headers.get("vary") == "Accept-Encoding", f"{link}: Vary {headers}")
            log(f"   {link}: {len(content)} bytes, {len(raw)} sent, {headers.get('content-encoding', 'plain')}")

    def revalidation():
        status, headers, raw = web.request("GET", "/", {"Accept-Encoding": "gzip, deflate",
                                                        "If-None-Match": index["etag"]})
        check(status == 304 and raw == b"", f"If-None-Match {index['etag']}: {status} {raw[:100]!r}")
        check(headers.get("etag") == index["etag"], f"304 keeps the ETag: {headers}")
        check("content-length" not in headers, f"304 without Content-Length: {headers}")
        status, _, _ = web.request("GET", "/", {"If-None-Match": '"0000"'})
        check(status == 200, f"another ETag -> {status}")

    def client_route_head_and_404s():
        status, headers, page = web.request("GET", "/orgs/1/hosts")
        check(status == 200 and page == index["page"] and headers.get("cache-control") == "no-cache",
              f"client-side route /orgs/1/hosts: {status} {headers}")
        # The server keeps its own list of the dashboard's page sections (so a typo'd asset path is
        # a 404, not index.html): every section router.ts parses must be on it.
        router_ts = os.path.join(os.path.dirname(__file__), "..", "..", "dashboard", "src", "lib", "router.ts")
        with open(router_ts, encoding="utf-8") as source:
            sections = set(re.findall(r"first === '([a-z]+)'", source.read()))
        check(len(sections) >= 6, f"sections found in router.ts: {sections}")
        for section in sorted(sections):
            status, _, page = web.request("GET", f"/{section}/1")
            check(status == 200 and page == index["page"], f"router.ts section /{section}/1 -> {status}")
        status, headers, raw = web.request("HEAD", "/", {"Accept-Encoding": "gzip, deflate"})
        check(status == 200 and raw == b"" and int(headers["content-length"]) == index["raw_length"],
              f"HEAD /: {status} {headers} {raw[:100]!r}")
        status, headers, raw = web.request("GET", "/assets/no-such-file-00000000.js")
        check(status == 404, f"unknown asset -> {status}")
        status, headers, raw = web.request("GET", "/api/v1/no-such-route")
        check(status == 404 and headers.get("content-type") == "application/json" and b'"not_found"' in raw,
              f"unknown API route keeps its JSON 404: {status} {headers} {raw!r}")
        status, _, _ = web.request("GET", "/api/v1/health")
        check(status == 200, "the API still answers")

    def report_in_a_frame():
        with open(server.admin_token_file) as f:
            auth = {"Authorization": "Bearer " + f.read().strip()}
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
        conn.request("POST", "/api/v1/orgs", body=json.dumps({"name": "Frame Ltd"}),
                     headers={**auth, "Content-Type": "application/json"})
        created = conn.getresponse()
        check(created.status == 201, f"creating the organisation -> {created.status}: {created.read()!r}")
        conn.close()
        status, headers, raw = web.request("GET", "/api/v1/orgs/Frame%20Ltd/report?format=html&disposition=inline",
                                           auth)
        check(status == 200, f"report -> {status}: {raw[:300]!r}")
        check(headers.get("content-disposition", "").startswith("inline; "), f"report disposition: {headers}")
        check(headers.get("x-frame-options") == "SAMEORIGIN", f"report framing: {headers}")
        check("frame-ancestors 'self'" in headers.get("content-security-policy", ""), f"report CSP: {headers}")
        check("script-src" not in headers["content-security-policy"] and
              "default-src 'none'" in headers["content-security-policy"], f"report CSP: {headers}")
        _, headers, _ = web.request("GET", "/api/v1/orgs/Frame%20Ltd/report?format=html", auth)
        check(headers.get("content-disposition", "").startswith("attachment; "), f"default disposition: {headers}")

    steps.run("GET / is index.html with CSP, nosniff, no-cache and an ETag", index_page)
    steps.run("the /assets/ files index.html links: immutable, gzip when accepted", assets)
    steps.run("If-None-Match with the ETag gets 304", revalidation)
    steps.run("a client-side route, HEAD, and the 404s", client_route_head_and_404s)
    steps.run("the HTML report can be framed by this origin only", report_in_a_frame)
    steps.finish()


run_test(body)
