"""IAM evaluated in the local stack: a proxy between the functions and moto that checks
every call a function makes against the IAM statements Terraform gave that function's role.

moto does not evaluate IAM for these calls, so without this a missing grant shows only on a
real account. The proxy knows the calling function from the SDK's user agent (`app/<name>`,
which src/aws/mod.rs sets from AWS_LAMBDA_FUNCTION_NAME), derives the IAM action, the
resource ARN and the condition keys the policies use from the request — as the Service
Authorization Reference defines them for ECS, ECR, S3, SNS and Secrets Manager — and
evaluates the role's statements (`terraform output function_permissions`): allowed only if
a statement's action, resource and condition all match, as IAM's policy evaluation does
for identity policies without a Deny. Calls by anything else (Terraform, the demo's
scripts) pass unchecked.

  iam_check.py serve PORT UPSTREAM PERMISSIONS.json LOG.jsonl   run the proxy
  iam_check.py report PERMISSIONS.json LOG.jsonl                the summary; exit 1 on a denial
"""

import fnmatch
import http.client
import http.server
import json
import re
import sys
import threading
import urllib.parse

ACCOUNT, REGION = "123456789012", "us-east-1"
JSON_TARGETS = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "secretsmanager": "secretsmanager",
}
# Granted to a role but used by AWS on the function's behalf, never by a call it makes.
ON_BEHALF = {
    "kms:Decrypt": "S3, Secrets Manager and SNS decrypt with the key for the function",
    "kms:GenerateDataKey": "S3 and SNS encrypt with the key for the function",
    "logs:CreateLogStream": "Lambda writes the function's logs",
    "logs:PutLogEvents": "Lambda writes the function's logs",
    "xray:PutTraceSegments": "Lambda's X-Ray integration",
    "xray:PutTelemetryRecords": "Lambda's X-Ray integration",
    "sqs:SendMessage": "Lambda's on-failure destination writes the dead-letter queue",
}


def ecs_arn(kind, name):
    return name if name.startswith("arn:") else f"arn:aws:ecs:{REGION}:{ACCOUNT}:{kind}/{name}"


def service_arn(cluster, service):
    if service.startswith("arn:"):
        return service
    cluster = (cluster or "default").rsplit("/", 1)[-1]
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{service}"


def json_calls(service, operation, body):
    """(action, resource, context) for each authorization a JSON-protocol call needs."""
    action = f"{service}:{operation}"
    if service == "ecs" and operation in ("DescribeServices",):
        return [(action, service_arn(body.get("cluster"), s), {}) for s in body.get("services", [])]
    if service == "ecs" and operation == "UpdateService":
        context = {}
        if body.get("taskDefinition"):
            context["ecs:task-definition"] = ecs_arn("task-definition", body["taskDefinition"])
        return [(action, service_arn(body.get("cluster"), body["service"]), context)]
    if service == "ecs" and operation == "RegisterTaskDefinition":
        # The new revision's ARN (its number is ECS's to choose: any matches family:*).
        revision = ecs_arn("task-definition", f"{body['family']}:0")
        calls = [(action, revision, {})]
        if body.get("tags"):
            calls.append(("ecs:TagResource", revision, {"ecs:CreateAction": "RegisterTaskDefinition"}))
        for key in ("taskRoleArn", "executionRoleArn"):
            if body.get(key):
                calls.append(("iam:PassRole", body[key], {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
        return calls
    if service == "ecr":
        registry = body.get("registryId", ACCOUNT)
        return [(action, f"arn:aws:ecr:{REGION}:{registry}:repository/{body.get('repositoryName')}", {})]
    if service == "secretsmanager":
        secret = body.get("SecretId", "")
        if not secret.startswith("arn:"):
            secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}"
        return [(action, secret, {})]
    # No resource-level permissions (DescribeTaskDefinition, ListTaskDefinitions).
    return [(action, "*", {})]


def s3_calls(method, path, query):
    parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    if not key:
        context = {"s3:prefix": query.get("prefix", [""])[0]}
        return [("s3:ListBucket", f"arn:aws:s3:::{bucket}", context)]
    resource = f"arn:aws:s3:::{bucket}/{key}"
    if method in ("GET", "HEAD"):
        action = "s3:GetObjectVersion" if "versionId" in query else "s3:GetObject"
        return [(action, resource, {})]
    if method == "PUT":
        return [("s3:PutObject", resource, {})]
    if method == "DELETE":
        return [("s3:DeleteObject", resource, {})]
    return [(f"s3:{method}", resource, {})]


def authorizations(method, path, headers, body):
    """What IAM would evaluate for one request."""
    target = headers.get("x-amz-target", "")
    if target:
        prefix, operation = target.split(".", 1)
        service = JSON_TARGETS.get(prefix, prefix.lower())
        return json_calls(service, operation, json.loads(body or b"{}"))
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = scope.group(1) if scope else ""
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if service == "s3":
        return s3_calls(method, url.path, query)
    if service == "sns":
        form = urllib.parse.parse_qs(body.decode())
        return [(f"sns:{form.get('Action', ['?'])[0]}", form.get("TopicArn", ["*"])[0], {})]
    if service == "lambda":
        name = url.path.split("/functions/", 1)[-1].split("/", 1)[0]
        return [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", {})]
    return [(f"{service}:{method}", url.path, {})]


def like(pattern, value):
    return fnmatch.fnmatchcase(value, pattern)


def condition_holds(condition, context):
    if not condition:
        return True
    test, key, values = condition["test"], condition["variable"], condition["values"]
    if key not in context:
        # Negated operators hold when the key is absent; positive ones do not.
        return test.endswith("NotLike") or test.endswith("NotEquals")
    value = context[key]
    if test in ("StringEquals", "ArnEquals"):
        return value in values
    if test in ("StringLike", "ArnLike"):
        return any(like(v, value) for v in values)
    if test in ("StringNotEquals", "ArnNotEquals"):
        return value not in values
    if test in ("StringNotLike", "ArnNotLike"):
        return not any(like(v, value) for v in values)
    raise ValueError(f"condition operator {test} is not implemented here")


def secret_name(arn):
    # Secrets Manager appends -XXXXXX to a secret's name in its ARN; a call may name it without.
    return re.sub(r"-[A-Za-z0-9]{6}$", "", arn)


def resource_matches(pattern, resource):
    if like(pattern, resource):
        return True
    return ":secretsmanager:" in pattern and secret_name(pattern) == secret_name(resource)


def evaluate(statements, action, resource, context):
    """The sid of the first statement that allows the call, or None (an implicit deny)."""
    for statement in statements:
        if not any(like(a.lower(), action.lower()) for a in statement["actions"]):
            continue
        if not any(resource_matches(r, resource) for r in statement["resources"]):
            continue
        if condition_holds(statement.get("condition"), context):
            return statement["sid"]
    return None


def function_of(headers):
    agent = headers.get("x-amz-user-agent", "") + " " + headers.get("user-agent", "")
    found = re.search(r"\bapp/([A-Za-z0-9._-]+)", agent)
    return found.group(1) if found else None


def serve(port, upstream, permissions_file, log_file):
    with open(permissions_file) as f:
        permissions = json.load(f)
    upstream = urllib.parse.urlsplit(upstream)
    lock = threading.Lock()
    log = open(log_file, "a", buffering=1)

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def read_body(self):
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("content-length", 0) or 0))

        def handle_one(self):
            body = self.read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            function = function_of(headers)
            if function:
                self.check(function, headers, body)
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection", "expect")}
            forwarded["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=forwarded)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        def check(self, function, headers, body):
            statements = permissions.get(function)
            for action, resource, context in authorizations(self.command, self.path, headers, body):
                sid = evaluate(statements or [], action, resource, context)
                entry = {"function": function, "action": action, "resource": resource,
                         "context": context, "allowed_by": sid}
                with lock:
                    log.write(json.dumps(entry) + "\n")

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_one

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Proxy)
    server.daemon_threads = True
    server.serve_forever()


def report(permissions_file, log_file):
    with open(permissions_file) as f:
        permissions = json.load(f)
    try:
        with open(log_file) as f:
            entries = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        entries = []
    denied = [e for e in entries if not e["allowed_by"]]
    functions = sorted({e["function"] for e in entries})
    print(f"IAM: {len(entries)} calls checked against each function's role "
          f"({', '.join(functions) or 'none'}), {len(denied)} denied")
    for e in denied[:20]:
        print(f"  DENIED  {e['function']}: {e['action']} on {e['resource']} {json.dumps(e['context'])}")
    used = {(e["function"], e["allowed_by"]) for e in entries if e["allowed_by"]}
    unused, on_behalf = {}, set()
    for function, statements in sorted(permissions.items()):
        if function not in functions:
            continue
        for st in statements:
            if (function, st["sid"]) in used:
                continue
            if all(a in ON_BEHALF for a in st["actions"]):
                on_behalf.add(st["sid"])
            else:
                unused.setdefault(function, []).append(st["sid"])
    if unused:
        print("Granted, and used by no call in this run (paths the demo does not take):")
        for function, sids in unused.items():
            print(f"  {function}: {', '.join(sids)}")
    if on_behalf:
        print(f"Granted for AWS to use on the functions' behalf (never a call they make): {', '.join(sorted(on_behalf))}")
    never_ran = sorted(set(permissions) - set(functions))
    if never_ran:
        print(f"Functions that made no AWS call in this run: {', '.join(never_ran)}")
    return 1 if denied else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(*sys.argv[2:6])
    elif sys.argv[1:2] == ["report"]:
        sys.exit(report(*sys.argv[2:4]))
    else:
        sys.exit(__doc__)
