"""IAM evaluated in the local stack: a proxy between the functions and moto that checks
every call a function makes against the policies of the role it runs as.

moto does not evaluate IAM for these calls, so without this a missing grant shows only on a
real account. Each function runs as its own Terraform-created role, as on Lambda: the local
stack gives it an AWS profile that assumes the role through STS (on moto, through this
proxy), so the SDK signs every call with that role's temporary credentials. The proxy sees
the AssumeRole answer, remembers which access key belongs to which role, and reads the
role's inline and attached policies from the emulator's IAM — what is attached, not what
Terraform meant to attach. For every later call it derives the IAM action, the resource
ARN and the condition keys the policies use from the request (as the Service Authorization
Reference defines them for ECS, ECR, S3, SNS, Secrets Manager and Scheduler) and evaluates the role's
statements as IAM's policy evaluation logic does for identity policies: an explicit Deny
wins, otherwise a statement whose action, resource and every condition match allows, and
anything else is an implicit deny. A call that names a function in its user agent
(`app/<name>`, src/aws/mod.rs) but is not signed with an assumed role's key is a denial
too: the function did not run as its role. Calls by anything else (Terraform, the demo's
scripts) pass unchecked.

  iam_check.py serve PORT UPSTREAM LOG.jsonl   run the proxy
  iam_check.py report LOG.jsonl [ROLES.json]   the summary; exit 1 on a denial
"""

import fnmatch
import http.client
import http.server
import json
import re
import sys
import threading
import urllib.parse

import ecs_deployments

ACCOUNT, REGION = "123456789012", "us-east-1"
JSON_TARGETS = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "secretsmanager": "secretsmanager",
    "AWSEvents": "events",
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
    **{f"ec2:{action}": "Lambda manages a VPC function's network interfaces (the test probe)"
       for action in ("CreateNetworkInterface", "DescribeNetworkInterfaces", "DescribeSubnets",
                      "DeleteNetworkInterface", "AssignPrivateIpAddresses", "UnassignPrivateIpAddresses")},
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
        calls = [(action, service_arn(body.get("cluster"), body["service"]), context)]
        # A progressive rollout names ECS's infrastructure role for the load balancer.
        for balancer in body.get("loadBalancers", []):
            role = balancer.get("advancedConfiguration", {}).get("roleArn")
            if role:
                calls.append(("iam:PassRole", role, {"iam:PassedToService": "ecs.amazonaws.com"}))
        # ...and a Lambda lifecycle hook the role ECS invokes it with.
        for hook in body.get("deploymentConfiguration", {}).get("lifecycleHooks", []):
            if hook.get("roleArn"):
                calls.append(("iam:PassRole", hook["roleArn"], {"iam:PassedToService": "ecs.amazonaws.com"}))
        return calls
    if service == "ecs" and operation in ("ContinueServiceDeployment", "DescribeServiceDeployments"):
        # Both resource types are required: the service deployment and its service
        # (Service Authorization Reference for Amazon ECS).
        arns = body.get("serviceDeploymentArns") or [body.get("serviceDeploymentArn", "")]
        calls = []
        for arn in arns:
            cluster_service = arn.split(":service-deployment/", 1)[-1].rsplit("/", 1)[0]
            calls.append((action, arn, {}))
            calls.append((action, f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster_service}", {}))
        return calls
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
    if service == "events" and operation == "PutEvents":
        # One authorization per entry, on the bus it names (a name or an ARN; none: the
        # default bus). Service Authorization Reference, "Amazon EventBridge": PutEvents'
        # resource is the event-bus.
        calls = []
        for entry in body.get("Entries", []):
            bus = entry.get("EventBusName") or "default"
            if not bus.startswith("arn:"):
                bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
            calls.append((action, bus, {}))
        return calls
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
    if service == "scheduler":
        return scheduler_calls(method, url.path, json.loads(body or b"{}"))
    return [(f"{service}:{method}", url.path, {})]


def scheduler_calls(method, path, body):
    """EventBridge Scheduler's REST API: CreateSchedule is POST /schedules/{Name}, its
    resource the schedule in its group (Service Authorization Reference, "Actions defined
    by Amazon EventBridge Scheduler"), and the target's execution role is passed to
    scheduler.amazonaws.com."""
    name = urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1])
    group = body.get("GroupName", "default")
    resource = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{name}"
    if method == "POST" and path.startswith("/schedules/"):
        calls = [("scheduler:CreateSchedule", resource, {})]
        role = body.get("Target", {}).get("RoleArn")
        if role:
            calls.append(("iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}))
        return calls
    return [(f"scheduler:{method}", resource, {})]


def like(pattern, value):
    return fnmatch.fnmatchcase(value, pattern)


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements_from_policy(document):
    """A policy document as IAM stores it, as the statements `evaluate` reads."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = []
    for i, st in enumerate(as_list(document.get("Statement", []))):
        if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
            raise ValueError(f"statement {st.get('Sid', i)} uses Not*, which this check does not evaluate")
        conditions = [{"test": test, "variable": key, "values": [str(v) for v in as_list(values)]}
                      for test, pairs in st.get("Condition", {}).items() for key, values in pairs.items()]
        statements.append({"sid": st.get("Sid") or f"statement-{i}", "effect": st.get("Effect", "Allow"),
                           "actions": as_list(st.get("Action", [])), "resources": as_list(st.get("Resource", [])),
                           "conditions": conditions})
    return statements


def condition_holds(condition, context):
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


def applies(statement, action, resource, context):
    return (any(like(a.lower(), action.lower()) for a in statement["actions"])
            and any(resource_matches(r, resource) for r in statement["resources"])
            and all(condition_holds(c, context) for c in statement["conditions"]))


def evaluate(statements, action, resource, context):
    """The sid of the statement that allows the call, or None (an explicit or implicit deny).

    IAM's evaluation logic for identity-based policies: an explicit Deny overrides any
    Allow; without an Allow the request is implicitly denied.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    """
    matching = [st for st in statements if applies(st, action, resource, context)]
    if any(st["effect"] == "Deny" for st in matching):
        return None
    allowing = [st["sid"] for st in matching if st["effect"] == "Allow"]
    return allowing[0] if allowing else None


# The operator's command line names itself too (src/cli/context.rs), but it runs with an
# operator's own credentials, not a function's role: its calls are not a function's.
NOT_FUNCTIONS = {"slipway-cli"}


def function_of(headers):
    agent = headers.get("x-amz-user-agent", "") + " " + headers.get("user-agent", "")
    found = re.search(r"\bapp/([A-Za-z0-9._-]+)", agent)
    return found.group(1) if found and found.group(1) not in NOT_FUNCTIONS else None


def access_key_of(headers, path):
    """The access key a request is signed with (header or presigned query)."""
    found = re.search(r"Credential=([^/,\s]+)/", headers.get("authorization", ""))
    if found:
        return found.group(1)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    credential = query.get("X-Amz-Credential", [""])[0]
    return credential.split("/", 1)[0] or None


def assumed_role(body):
    """(role ARN, session name) if the request is STS AssumeRole."""
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    if form.get("Action", [""])[0] != "AssumeRole":
        return None
    return form.get("RoleArn", [""])[0], form.get("RoleSessionName", [""])[0]


def issued_key(answer):
    found = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", answer)
    return found.group(1).decode() if found else None


def role_policies(upstream_url, role_arn):
    """The role's inline and attached policies, read from the emulator's IAM."""
    import boto3  # the venv's (moto depends on it); only the proxy needs it

    iam = boto3.client("iam", endpoint_url=upstream_url, region_name=REGION,
                       aws_access_key_id="test", aws_secret_access_key="test")
    role = role_arn.rsplit("/", 1)[-1]
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        statements += statements_from_policy(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        statements += statements_from_policy(version["PolicyVersion"]["Document"])
    return statements


def missing_object(method, path, headers, status):
    """The bucket's ARN if S3 answered an object read 404 (NoSuchKey or NoSuchVersion)."""
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    if status != 404 or method not in ("GET", "HEAD") or not scope or scope.group(1) != "s3":
        return None
    parts = urllib.parse.unquote(urllib.parse.urlsplit(path).path).lstrip("/").split("/", 1)
    return f"arn:aws:s3:::{parts[0]}" if len(parts) == 2 and parts[1] else None


def access_denied():
    """What S3 answers instead of 404 to a caller without s3:ListBucket on the bucket:
    "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code
    403 Access Denied error" (S3 API Reference, GetObject and HeadObject, "Permissions":
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). AWS does not say
    which condition keys that decision carries; the request is no listing and has no
    s3:prefix, so the check assumes none, and a grant conditioned on s3:prefix does not
    count here (the safe reading)."""
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            b"<Message>Access Denied</Message></Error>")
    return 403, "Forbidden", [("Content-Type", "application/xml")], body


class Roles:
    """Access keys issued by AssumeRole, and each assumed role's statements."""

    def __init__(self, upstream_url, log):
        self.upstream_url, self.log = upstream_url, log
        self.lock, self.log_lock = threading.Lock(), threading.Lock()
        self.keys = {}   # access key -> (role ARN, session name)
        self.loaded = {}  # role ARN -> statements

    def issued(self, key, role_arn, session):
        statements = role_policies(self.upstream_url, role_arn)
        with self.lock:
            self.keys[key] = (role_arn, session)
            first = role_arn not in self.loaded
            self.loaded[role_arn] = statements
        if first:
            self.write({"role": role_arn, "function": session, "statements": statements})

    def of(self, key):
        with self.lock:
            found = self.keys.get(key)
            return (found[0], found[1], self.loaded[found[0]]) if found else None

    def write(self, entry):
        with self.log_lock:
            self.log.write(json.dumps(entry) + "\n")


def serve(port, upstream, log_file):
    upstream_url = upstream
    upstream = urllib.parse.urlsplit(upstream)
    roles = Roles(upstream_url, open(log_file, "a", buffering=1))

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
            assuming = assumed_role(body) if self.command == "POST" else None
            role = None if assuming else self.check(headers, body)
            status, reason, answer_headers, data = self.ecs_stand_in(headers, body) or self.forward(body)
            if assuming and status == 200 and issued_key(data):
                roles.issued(issued_key(data), *assuming)
            missing = missing_object(self.command, self.path, headers, status)
            if role and missing and not self.may_list(role, missing):
                status, reason, answer_headers, data = access_denied()
            self.send_response(status, reason)
            for key, value in answer_headers:
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def ecs_stand_in(self, headers, body):
            """ECS's service deployments, which moto lacks (ecs_deployments.py)."""
            target = headers.get("x-amz-target", "")
            if not target.startswith("AmazonEC2ContainerServiceV20141113."):
                return None
            operation = target.split(".", 1)[1]
            request = json.loads(body or b"{}")
            if operation == "UpdateService":
                status, reason, answer_headers, data = self.forward(body)
                if status == 200:
                    data = json.dumps(ecs_deployments.started(request, json.loads(data))).encode()
                return status, reason, answer_headers, data
            answered = ecs_deployments.answer(operation, request)
            if answered is None:
                return None
            status, payload = answered
            return status, "OK" if status == 200 else "Bad Request", [("Content-Type", "application/x-amz-json-1.1")], json.dumps(payload).encode()

        def may_list(self, role, bucket_arn):
            """S3 answers a missing object 404 only to a caller with ListBucket on the bucket."""
            sid = evaluate(role[2], "s3:ListBucket", bucket_arn, {})
            roles.write({"function": role[1], "role": role[0], "action": "s3:ListBucket", "resource": bucket_arn,
                         "context": {}, "allowed_by": sid,
                         "reason": "a missing object is 403, not 404, without s3:ListBucket on the bucket"})
            return sid is not None

        def forward(self, body):
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection", "expect")}
            forwarded["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=forwarded)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            return answer.status, answer.reason, answer.getheaders(), data

        def check(self, headers, body):
            function = function_of(headers)
            role = roles.of(access_key_of(headers, self.path))
            if not role and not function:
                return None  # Terraform or a script: not a function
            for action, resource, context in authorizations(self.command, self.path, headers, body):
                entry = {"function": function, "action": action, "resource": resource, "context": context}
                if role:
                    entry.update(role=role[0], function=role[1], allowed_by=evaluate(role[2], action, resource, context))
                else:
                    entry.update(role=None, allowed_by=None, reason="not signed with an assumed role's credentials")
                roles.write(entry)
            return role

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_one

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Proxy)
    server.daemon_threads = True
    server.serve_forever()


def report(log_file, roles_file=None):
    try:
        with open(log_file) as f:
            records = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        records = []
    assumed = {r["function"]: r for r in records if "statements" in r}
    entries = [r for r in records if "action" in r]
    denied = [e for e in entries if not e["allowed_by"]]
    functions = sorted({e["function"] for e in entries})
    def who(function):
        role = assumed.get(function, {}).get("role")
        return f"{function} as {role.rsplit('/', 1)[-1]}" if role else function

    print(f"IAM: {len(entries)} calls checked against each function's role "
          f"({', '.join(who(f) for f in functions) or 'none'}), {len(denied)} denied")
    for e in denied[:20]:
        why = e.get("reason") or f"no statement of {e['role']} allows it"
        print(f"  DENIED  {e['function']}: {e['action']} on {e['resource']} {json.dumps(e['context'])} ({why})")
    used = {(e["function"], e["allowed_by"]) for e in entries if e["allowed_by"]}
    unused, on_behalf = {}, set()
    for function, record in sorted(assumed.items()):
        for st in record["statements"]:
            if st["effect"] != "Allow" or (function, st["sid"]) in used:
                continue
            if all(a in ON_BEHALF for a in st["actions"]):
                on_behalf.add(st["sid"])
            else:
                unused.setdefault(function, []).append(st["sid"])
    if unused:
        print("Granted, and used by no call in this run (paths this run did not take):")
        for function, sids in unused.items():
            print(f"  {function}: {', '.join(sids)}")
    if on_behalf:
        print(f"Granted for AWS to use on the functions' behalf (never a call they make): {', '.join(sorted(on_behalf))}")
    if roles_file:
        with open(roles_file) as f:
            idle = sorted(set(json.load(f)) - set(functions))
        if idle:
            print(f"Functions that made no AWS call in this run: {', '.join(idle)}")
    return 1 if denied else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(*sys.argv[2:5])
    elif sys.argv[1:2] == ["report"]:
        sys.exit(report(*sys.argv[2:4]))
    else:
        sys.exit(__doc__)
