#!/usr/bin/env python3
"""docs/openapi.yaml against the real server.

1. The route table of the real binary (`dozor-server routes`) and the spec's paths are the same set
   of (method, pattern), path parameters named alike; each operation's x-dozor-access and
   x-dozor-scope equal the router's declaration; public routes need no credential and every other
   route that changes state asks a browser session for its CSRF header.
2. The spec holds together: every $ref resolves, every schema is a valid Draft 2020-12 schema, every
   example (media types, parameters, schemas) validates against its schema, every 2xx JSON answer
   has one, and every error code the handlers use is in the Error schema.
3. A real dozor-server answers a walk over the read routes (and a few writes) with bodies that
   validate against the documented schemas.

Needs Debian's python3-yaml and python3-jsonschema (deploy/install-deps.sh).
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

import jsonschema
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import Agent, Server, Steps, check, log, wait_until  # noqa: E402

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPEC_PATH = os.path.join(SOURCE_DIR, "docs", "openapi.yaml")
FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR", os.path.join(SOURCE_DIR, "tests", "fixtures"))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
STATE_KEEPING = ("GET", "HEAD", "OPTIONS")

with open(SPEC_PATH, encoding="utf-8") as f:
    SPEC = yaml.safe_load(f)

RESOLVER = jsonschema.RefResolver(base_uri="", referrer=SPEC)


def resolve(node):
    """Follows a {"$ref": "#/..."} (Reference Object) within the spec."""
    while isinstance(node, dict) and "$ref" in node:
        _, node = RESOLVER.resolve(node["$ref"])
    return node


def validator(schema):
    return jsonschema.Draft202012Validator(schema, resolver=RESOLVER,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def errors_of(schema, instance):
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator(schema).iter_errors(instance)]


def router_routes():
    server = os.path.join(harness.BIN_DIR, "server", "dozor-server")
    result = subprocess.run([server, "routes"], capture_output=True, text=True, timeout=60)
    check(result.returncode == 0, f"dozor-server routes -> {result.returncode}: {result.stderr}")
    return json.loads(result.stdout)


def operations():
    """(METHOD, path, path item, operation) for every operation of the spec."""
    for path, item in SPEC.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item, item[method]


def parameters_of(item, operation):
    params = {}
    for p in item.get("parameters", []) + operation.get("parameters", []):
        p = resolve(p)
        params[(p["name"], p["in"])] = p
    return params


# ---------------------------------------------------------------- 1. the spec and the router

def check_routes_match(routes):
    in_router = {(r["method"], r["pattern"]) for r in routes}
    in_spec = {(m, p) for m, p, _, _ in operations()}
    missing = sorted(in_router - in_spec)
    extra = sorted(in_spec - in_router)
    report = []
    if missing:
        report += ["routes of the router missing from docs/openapi.yaml:"] + [f"  {m} {p}" for m, p in missing]
    if extra:
        report += ["operations in docs/openapi.yaml that the router does not have:"] + \
            [f"  {m} {p}" for m, p in extra]
    check(not report, "\n    ".join(report))
    log(f"   {len(in_router)} routes, all documented")


def check_declarations(routes):
    spec_ops = {(m, p): op for m, p, _, op in operations()}
    problems = []
    for r in routes:
        op = spec_ops.get((r["method"], r["pattern"]))
        if op is None:
            continue  # reported by check_routes_match
        where = f"{r['method']} {r['pattern']}"
        if op.get("x-dozor-access") != r["access"]:
            problems.append(f"{where}: x-dozor-access {op.get('x-dozor-access')!r}, router says {r['access']!r}")
        want_scope = {"kind": r["scope"]}
        if r["scope_param"] is not None:
            want_scope["param"] = r["scope_param"]
        if op.get("x-dozor-scope") != want_scope:
            problems.append(f"{where}: x-dozor-scope {op.get('x-dozor-scope')!r}, router says {want_scope!r}")
    check(not problems, "\n    ".join(["declarations differ:"] + problems))


def check_path_parameters():
    problems = []
    for method, path, item, op in operations():
        in_pattern = set(re.findall(r"\{([^}]+)\}", path))
        declared = {name for (name, where) in parameters_of(item, op) if where == "path"}
        if in_pattern != declared:
            problems.append(f"{method} {path}: path parameters {sorted(declared)}, pattern has {sorted(in_pattern)}")
        for (name, where), p in parameters_of(item, op).items():
            if where == "path" and p.get("required") is not True:
                problems.append(f"{method} {path}: path parameter {name} must be required")
        scope = op.get("x-dozor-scope", {})
        if "param" in scope and scope["param"] not in in_pattern:
            problems.append(f"{method} {path}: scope parameter {scope['param']} is not in the path")
    check(not problems, "\n    ".join(["path parameters:"] + problems))


def check_security():
    default = SPEC.get("security", [])
    schemes = SPEC["components"]["securitySchemes"]
    problems = []
    for method, path, _, op in operations():
        where = f"{method} {path}"
        security = op.get("security", default)
        if op.get("x-dozor-access") == "public":
            if security != []:
                problems.append(f"{where}: a public route must say security: []")
            continue
        if not security or {} in security:
            problems.append(f"{where}: needs a credential but its security allows none")
        for requirement in security:
            for name in requirement:
                if name not in schemes:
                    problems.append(f"{where}: unknown security scheme {name}")
            if method not in STATE_KEEPING and "browserSession" in requirement and "csrfToken" not in requirement:
                problems.append(f"{where}: changes state, so a browser session must also send csrfToken")
    check(not problems, "\n    ".join(["security:"] + problems))


# ---------------------------------------------------------------- 2. the spec holds together

def walk_refs(node, where="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from walk_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_refs(value, f"{where}/{i}")


def check_refs_and_schemas():
    problems = []
    for where, ref in walk_refs(SPEC):
        try:
            RESOLVER.resolve(ref)
        except Exception as e:  # noqa: BLE001 - any failure to resolve is the finding
            problems.append(f"{where}: $ref {ref} does not resolve ({e})")
    for name, schema in SPEC["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append(f"components/schemas/{name}: not a valid Draft 2020-12 schema: {e.message}")
    ids = [op.get("operationId") for _, _, _, op in operations()]
    for op_id in ids:
        if op_id is None:
            problems.append("an operation has no operationId")
        elif ids.count(op_id) > 1:
            problems.append(f"operationId {op_id} is used twice")
    check(not problems, "\n    ".join(["references and schemas:"] + sorted(set(problems))))


def media_examples(media):
    if "example" in media:
        yield "example", media["example"]
    for name, example in media.get("examples", {}).items():
        example = resolve(example)
        if "value" in example:
            yield f"examples/{name}", example["value"]


def check_examples():
    problems = []
    counted = 0

    def validate(where, schema, instance):
        nonlocal counted
        counted += 1
        for error in errors_of(schema, instance):
            problems.append(f"{where}: {error}")

    for name, schema in SPEC["components"]["schemas"].items():
        for i, example in enumerate(schema.get("examples", [])):
            validate(f"components/schemas/{name}/examples/{i}", schema, example)
    for method, path, item, op in operations():
        where = f"{method} {path}"
        for (name, _), param in parameters_of(item, op).items():
            for label, example in media_examples(param):
                validate(f"{where} parameter {name} {label}", param["schema"], example)
        body = resolve(op.get("requestBody", {}))
        for media_type, media in body.get("content", {}).items():
            for label, example in media_examples(media):
                validate(f"{where} request {media_type} {label}", media.get("schema", {}), example)
        for status, response in op.get("responses", {}).items():
            response = resolve(response)
            for header, spec in response.get("headers", {}).items():
                for label, example in media_examples(spec):
                    validate(f"{where} {status} header {header} {label}", spec["schema"], example)
            for media_type, media in response.get("content", {}).items():
                found = list(media_examples(media))
                for label, example in found:
                    validate(f"{where} {status} {media_type} {label}", media.get("schema", {}), example)
                if media_type == "application/json" and not found and status.startswith("2") \
                        and op.get("operationId") != "getReport":
                    problems.append(f"{where} {status}: a JSON answer without an example")
    check(not problems, "\n    ".join(["examples:"] + problems))
    log(f"   {counted} examples valid")


def check_error_codes():
    """Every code a handler (or the transport) answers with is one the Error schema lists."""
    codes = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    used = set()
    http_dir = os.path.join(SOURCE_DIR, "server", "http")
    for name in os.listdir(http_dir):
        if not name.endswith(".cpp"):
            continue
        with open(os.path.join(http_dir, name), encoding="utf-8") as f:
            text = f.read()
        used |= set(re.findall(r'ErrorResponse\(\s*\d+,\s*"([a-z_]+)"', text))
        # api_types.cpp: the codes store errors map to (SlugFor).
        slug_for = re.search(r"const char\* SlugFor\(ErrorCode code\) \{(.*?)\n\}", text, re.S)
        if slug_for:
            used |= set(re.findall(r'return "([a-z_]+)";', slug_for.group(1)))
    check(len(used) > 5, f"found too few error codes in server/http ({sorted(used)}): has the code moved?")
    unknown = sorted(used - codes)
    check(not unknown, f"error codes used by server/http but not in the Error schema: {unknown}")


# ---------------------------------------------------------------- 3. a real server

class Api:
    def __init__(self, port, token):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, token=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        content_type = response.getheader("Content-Type", "")
        parsed = json.loads(raw) if content_type.startswith("application/json") else raw
        return response.status, parsed


def documented_schema(method, pattern, status):
    op = SPEC["paths"][pattern.split("?")[0]][method.lower()]
    response = op["responses"].get(str(status))
    check(response is not None, f"{method} {pattern}: status {status} is not documented")
    media = resolve(response).get("content", {}).get("application/json")
    check(media is not None, f"{method} {pattern} {status}: no application/json content documented")
    return media["schema"]


def check_live(api, method, pattern, params=None, body=None, token=True, want=None):
    """Calls the route and validates the answer against the schema documented for its status."""
    path = pattern
    for name, value in (params or {}).items():
        path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
    status, answer = api.call(method, path, body, token)
    if want is not None:
        check(status == want, f"{method} {path} -> {status} (wanted {want}): {answer}")
    problems = errors_of(documented_schema(method, pattern, status), answer)
    check(not problems, f"{method} {path} -> {status} does not match docs/openapi.yaml:\n    " +
          "\n    ".join(problems) + f"\n    body: {json.dumps(answer, ensure_ascii=False)[:2000]}")
    log(f"   {method} {path} -> {status}: matches")
    return answer


def live_walk(workdir, procs):
    server = Server(workdir, tls=False)
    procs.append(server)
    server.start()
    with open(server.admin_token_file) as f:
        api = Api(server.http_port, f.read().strip())

    steps = Steps()
    enrollment = {}

    def paging_and_search(host):
        """The list pages (sorts, filters, next_cursor followed) and the host search by the
        agent's host name, IP address, MAC and a package, as documented."""
        q = urllib.parse.quote
        shown = check_live(api, "GET", "/api/v1/hosts/{agent_id}", host, want=200)
        inventory = check_live(api, "GET", "/api/v1/hosts/{agent_id}/inventory", host, want=200)["inventory"]
        check_live(api, "GET", "/api/v1/hosts?limit=1&sort=-last_seen&status=online&q=" +
                   q(shown["hostname"][:3]), want=200)
        check_live(api, "GET", "/api/v1/hosts?os=" + q(shown["os_family"]) + "&sort=hostname", want=200)
        first = check_live(api, "GET", "/api/v1/findings?limit=1&sort=-opened&state=all", want=200)
        check(first["next_cursor"] is not None or len(first["findings"]) <= 1, "findings: a next_cursor")
        if first["next_cursor"]:
            second = check_live(api, "GET", "/api/v1/findings?limit=1&sort=-opened&state=all&cursor=" +
                                q(first["next_cursor"]), want=200)
            check(second["findings"][0]["id"] != first["findings"][0]["id"], "the next page moves on")
            check_live(api, "GET", "/api/v1/findings?sort=opened&cursor=" + q(first["next_cursor"]), want=400)
        check_live(api, "GET", "/api/v1/findings?sort=host&since=1&severity=high,critical", want=200)
        check_live(api, "GET", "/api/v1/findings?sort=nope", want=400)
        check_live(api, "GET", "/api/v1/findings?category=os,security&engineer=nobody", want=200)
        check_live(api, "GET", "/api/v1/findings?category=" + ",".join(["os"] * 33), want=400)
        check_live(api, "GET", "/api/v1/hosts?status=offline,overdue&sort=-last_seen", want=200)
        check_live(api, "GET", "/api/v1/findings?cursor=%21garbage", want=400)
        check_live(api, "GET", "/api/v1/hosts?limit=0", want=400)
        terms = {"hostname": shown["hostname"]}
        if shown["addresses"]:
            terms["ip"] = shown["addresses"][0]
        macs = [i.get("mac") for i in inventory.get("network", {}).get("interfaces", []) if i.get("mac")]
        if macs:
            terms["mac"] = macs[0].upper().replace(":", "-")
        packages = inventory.get("software", {}).get("packages", [])
        if packages:
            terms["package"] = packages[0]["name"] + "=" + packages[0]["version"]
        for field, text in terms.items():
            found = check_live(api, "GET", "/api/v1/search/hosts?q=" + q(text), want=200)
            fields = {m["field"] for hit in found["hits"] for m in hit["matches"]}
            check(any(hit["host"]["agent_id"] == host["agent_id"] for hit in found["hits"]) and field in fields,
                  f"search by {field} {text!r} finds the host: {found}")
        check_live(api, "GET", "/api/v1/search/hosts?q=x", want=400)

    def agent_host_and_findings():
        """A real agent on a fixture machine (an end-of-life OS, so findings open): the host's
        routes and the finding lifecycle answer as documented."""
        if not os.path.exists(harness.AGENT_BIN):
            log("   skipped: no dozor-agent in this build tree")
            return
        root = os.path.join(workdir, "machine")
        shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
        os_release = os.path.join(root, "etc", "os-release")
        with open(os_release) as f:
            lines = [line for line in f.read().splitlines() if not line.startswith(("VERSION_ID=", "PRETTY_NAME="))]
        with open(os_release, "w") as f:
            f.write("\n".join(lines + ['VERSION_ID="10"', 'PRETTY_NAME="Debian GNU/Linux 10 (buster)"']) + "\n")
        agent = Agent(workdir, "agent1", server)
        procs.append(agent)
        agent.enroll(enrollment["token"])
        agent.start("--root", root, "--health-interval", "2")
        host = {"agent_id": agent.identity()["agent_id"]}

        def findings_open():
            _, listed = api.call("GET", "/api/v1/findings?org=" + urllib.parse.quote("ООО Ромашка"))
            return listed.get("findings") or None
        wait_until(findings_open, 90, "findings on the agent's host")
        wait_until(lambda: api.call("GET", f"/api/v1/hosts/{host['agent_id']}/health")[1].get("samples"),
                   60, "a health sample")
        check_live(api, "GET", "/api/v1/hosts", want=200)
        check_live(api, "GET", "/api/v1/hosts/{agent_id}", host, want=200)
        check_live(api, "GET", "/api/v1/hosts/{agent_id}/inventory", host, want=200)
        check_live(api, "GET", "/api/v1/hosts/{agent_id}/changes", host, want=200)
        check_live(api, "GET", "/api/v1/hosts/{agent_id}/health?limit=3", host, want=200)
        series = check_live(api, "GET", "/api/v1/hosts/{agent_id}/health/series", host, want=200)
        check(len(series["t"]) == 720 and any(v is not None for v in series["cpu_percent"]["avg"]),
              f"the health series shows the agent's samples: {json.dumps(series)[:500]}")
        check_live(api, "GET", "/api/v1/hosts/{agent_id}/health/series?range=30d", host, want=200)
        check_live(api, "GET", "/api/v1/hosts/{agent_id}/health/series?range=1y", host, want=400)
        trend = check_live(api, "GET", "/api/v1/orgs/{org}/readiness", {"org": "ООО Ромашка"}, want=200)
        check(trend["first_audit_at_ms"] is not None, f"the contract move recorded a first audit: {trend}")
        paging_and_search(host)
        listed = check_live(api, "GET", "/api/v1/findings?lang=ru", want=200)
        finding = {"id": listed["findings"][0]["id"]}
        check_live(api, "GET", "/api/v1/findings/{id}", finding, want=200)
        check_live(api, "POST", "/api/v1/findings/{id}/comments", finding, body={"comment": "звонили клиенту"},
                   want=200)
        check_live(api, "POST", "/api/v1/findings/{id}/waive", finding,
                   body={"reason": "клиент принимает риск", "until": "2099-01-01"}, want=200)
        check_live(api, "POST", "/api/v1/findings/{id}/accept-waiver", finding, body={}, want=403)
        check_live(api, "POST", "/api/v1/findings/{id}/unwaive", finding, body={}, want=200)
        check_live(api, "POST", "/api/v1/findings/{id}/ack", finding, body={"comment": "в работе"}, want=200)
        check_live(api, "POST", "/api/v1/findings/{id}/ack", finding, body={}, want=409)
        check_live(api, "POST", "/api/v1/findings/{id}/verify", finding, body={"comment": "исправлено"}, want=202)
        check_live(api, "GET", "/api/v1/findings/{id}", finding, want=200)
        check_live(api, "POST", "/api/v1/hosts/{agent_id}/commands", host, body={"collect_inventory": True},
                   want=202)
        check_live(api, "GET", "/api/v1/events?limit=1000", want=200)
        check_live(api, "GET", "/api/v1/overview", want=200)
        check_live(api, "POST", "/api/v1/hosts/{agent_id}/revoke", host, want=200)
        check_live(api, "POST", "/api/v1/hosts/{agent_id}/commands", host, body={"collect_inventory": True},
                   want=409)

    def health_and_me():
        check_live(api, "GET", "/api/v1/health", token=False, want=200)
        check_live(api, "GET", "/api/v1/me", want=200)
        check_live(api, "GET", "/api/v1/me", token=False, want=401)

    def organisations():
        org = check_live(api, "POST", "/api/v1/orgs", body={"name": "ООО Ромашка", "contract_type": "complex"},
                         want=201)
        check_live(api, "POST", "/api/v1/orgs", body={"name": "ООО Ромашка"}, want=409)
        check_live(api, "GET", "/api/v1/orgs", want=200)
        check_live(api, "GET", "/api/v1/orgs?limit=1&sort=-created&contract_type=complex&q=" +
                   urllib.parse.quote("Ромаш"), want=200)
        check_live(api, "GET", "/api/v1/orgs?sort=engineer", want=400)
        check_live(api, "GET", "/api/v1/search/hosts?q=db01&org=" + urllib.parse.quote("ООО Ромашка"), want=200)
        params = {"org": org["id"]}
        check_live(api, "GET", "/api/v1/orgs/{org}", params, want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}", {"org": "no such org"}, want=404)
        check_live(api, "PATCH", "/api/v1/orgs/{org}", params, body={"contract_type": "technical"}, want=200)
        check_live(api, "POST", "/api/v1/orgs/{org}/contract", params, body={"status": "remediation"}, want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}/contract", params, want=200)
        check_live(api, "POST", "/api/v1/orgs/{org}/snapshots", params, body={"kind": "signing"}, want=201)
        check_live(api, "POST", "/api/v1/orgs/{org}/evaluate", params, want=200)
        created = check_live(api, "POST", "/api/v1/orgs/{org}/tokens", params, body={"label": "e2e"}, want=201)
        enrollment["token"] = created["token"]
        check_live(api, "GET", "/api/v1/tokens", want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}/imports", params, want=200)
        check_live(api, "GET", "/api/v1/hosts", want=200)
        check_live(api, "GET", "/api/v1/hosts/{agent_id}", {"agent_id": "0123456789abcdef"}, want=404)
        check_live(api, "GET", "/api/v1/findings", want=200)
        check_live(api, "POST", "/api/v1/findings/{id}/verify", {"id": 999}, body={}, want=404)
        events = check_live(api, "GET", "/api/v1/events?after=0&wait=1", want=200)
        check(any(e["kind"] == "contract_moved" for e in events["events"]),
              f"the contract move is not in the event feed: {events}")
        check_live(api, "GET", "/api/v1/overview", want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}/summary", params, want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}/readiness", params, want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}/readiness", {"org": "no such org"}, want=404)

    def alert_rules():
        params = {"org": "ООО Ромашка"}
        check_live(api, "GET", "/api/v1/orgs/{org}/alert-settings", params, want=200)
        stored = check_live(api, "PUT", "/api/v1/orgs/{org}/alert-settings", params,
                            body={"working_hours": "08:00-17:00", "after_hours": "urgent", "min_severity": "high",
                                  "server_grace_minutes": 10,
                                  "rule_overrides": [{"rule_id": "agent-outdated", "min_severity": "never"}]},
                            want=200)
        check(stored["rule_overrides"] == [{"rule_id": "agent-outdated", "min_severity": "never"}],
              f"the override is stored: {stored}")
        check_live(api, "PUT", "/api/v1/orgs/{org}/alert-settings", params, body={"working_hours": "9-18"}, want=400)
        check_live(api, "GET", "/api/v1/orgs/{org}/alert-settings", {"org": "no such org"}, want=404)
        weekly = check_live(api, "POST", "/api/v1/orgs/{org}/maintenance", params,
                            body={"weekdays": "sat-sun", "start": "22:00", "duration_minutes": 240,
                                  "reason": "резервное копирование"}, want=201)
        check_live(api, "POST", "/api/v1/orgs/{org}/maintenance", params,
                   body={"starts_at": "2099-12-06T22:00:00+03:00", "ends_at": "2099-12-07T02:00:00+03:00"}, want=201)
        check_live(api, "POST", "/api/v1/orgs/{org}/maintenance", params, body={"weekdays": "sat"}, want=400)
        listed = check_live(api, "GET", "/api/v1/orgs/{org}/maintenance", params, want=200)
        check(len(listed["windows"]) == 2, f"two windows: {listed}")
        window = {"org": "ООО Ромашка", "window": weekly["id"]}
        check_live(api, "DELETE", "/api/v1/orgs/{org}/maintenance/{window}", window, want=200)
        check_live(api, "DELETE", "/api/v1/orgs/{org}/maintenance/{window}", window, want=404)

    def people():
        user = check_live(api, "POST", "/api/v1/users",
                          body={"login": "anna", "display_name": "Анна", "role": "engineer",
                                "password": "a long enough passphrase"}, want=201)
        check_live(api, "GET", "/api/v1/users", want=200)
        check_live(api, "PATCH", "/api/v1/users/{user}", {"user": "anna"}, body={"language": "en"}, want=200)
        check_live(api, "PUT", "/api/v1/orgs/{org}/engineers/{user}", {"org": "ООО Ромашка", "user": user["id"]},
                   body={"kind": "backup", "specialty": "1C"}, want=200)
        check_live(api, "GET", "/api/v1/users/{user}", {"user": "anna"}, want=200)
        check_live(api, "GET", "/api/v1/orgs/{org}/engineers", {"org": "ООО Ромашка"}, want=200)
        check_live(api, "PUT", "/api/v1/orgs/{org}/notes", {"org": "ООО Ромашка"},
                   body={"text": "Директор решает всё сам."}, want=201)
        check_live(api, "GET", "/api/v1/orgs/{org}/notes", {"org": "ООО Ромашка"}, want=200)
        check_live(api, "POST", "/api/v1/api-tokens", body={"name": "helpdesk", "role": "viewer", "user": "anna"},
                   want=201)
        check_live(api, "GET", "/api/v1/api-tokens", want=200)
        check_live(api, "GET", "/api/v1/audit-log", want=200)
        login = check_live(api, "POST", "/api/v1/auth/login",
                           body={"login": "anna", "password": "a long enough passphrase", "client": "cli"},
                           token=False, want=200)
        as_anna = Api(api.port, login["session_token"])
        check_live(as_anna, "GET", "/api/v1/me", want=200)
        check_live(as_anna, "POST", "/api/v1/auth/logout", want=200)
        check_live(api, "POST", "/api/v1/auth/login", body={"login": "anna", "password": "wrong"},
                   token=False, want=401)

    def rules():
        listed = check_live(api, "GET", "/api/v1/rules", want=200)
        check(listed["rules"], "the server loaded no rules")
        check_live(api, "GET", "/api/v1/rules/{id}", {"id": listed["rules"][0]["id"]}, want=200)
        check_live(api, "GET", "/packages", token=False, want=200)

    steps.run("health and /me validate", health_and_me)
    steps.run("organisations, contracts, tokens, hosts, findings validate", organisations)
    steps.run("alert settings and maintenance windows validate", alert_rules)
    steps.run("users, engineers, notes, API tokens, audit log, sessions validate", people)
    steps.run("rules and the package manifest validate", rules)
    steps.run("a real agent's host, inventory, health, changes and findings validate", agent_host_and_findings)
    steps.finish()


def main():
    steps = Steps()
    routes = router_routes()
    steps.run("every route documented, every documented route exists", lambda: check_routes_match(routes))
    steps.run("x-dozor-access and x-dozor-scope equal the router's", lambda: check_declarations(routes))
    steps.run("path parameters named as in the patterns", check_path_parameters)
    steps.run("security: public routes open, state changes need CSRF with a cookie", check_security)
    steps.run("every $ref resolves, every schema is Draft 2020-12", check_refs_and_schemas)
    steps.run("every example validates; every 2xx JSON answer has one", check_examples)
    steps.run("every error code of server/http is in the Error schema", check_error_codes)
    steps.run("a real server's answers validate", lambda: harness.run_test(live_walk))
    steps.finish()
    log("PASS")


if __name__ == "__main__":
    main()
