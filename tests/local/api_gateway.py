"""API Gateway's part of the operator endpoint on the local stack.

On AWS the operator endpoint is the approval HTTP API's route `POST /operator/{action}`
with AWS_IAM authorization: API Gateway verifies the request's SigV4 signature, checks the
caller's execute-api:Invoke permission, and invokes the approval function with the
verified identity in `requestContext.authorizer.iam` (API Gateway Developer Guide,
"Control access to HTTP APIs with IAM authorization in API Gateway"; the payload is format
2.0, "Create AWS Lambda proxy integrations for HTTP APIs"). The emulator has no such API
Gateway and `cargo lambda watch` serves function URLs without an authorizer, so this plays
it: a request without a signature, or whose signature does not verify against the
operator's secret key, gets 403 and never reaches the function; a verified one is handed to
the approval function (under its own role, behind the IAM check) through cargo lambda's
Invoke API as the event API Gateway would send.

The caller's ARN is what STS's GetCallerIdentity says for the signing key. The emulator's
test identity has no IAM policies, so the execute-api:Invoke decision is not evaluated here
(the Rust tests play it: tests/common/api_gateway.rs).

  api_gateway.py serve PORT FUNCTIONS_URL AWS_ENDPOINT
"""

import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import urllib.request
import uuid

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?"
                  r"SignedHeaders=([a-z0-9;\-]+), ?Signature=([0-9a-f]{64})$")
MAX_SKEW_SECONDS = 300


def verify(method, url, headers, body, secrets):
    """The access key that signed the request, or None (unsigned, forged, expired)."""
    h = {k.lower(): v for k, v in headers.items()}
    match = AUTH.match(h.get("authorization", ""))
    if not match:
        return None
    key, date, region, service, signed, signature = match.groups()
    amz_date = h.get("x-amz-date", "")
    if service != "execute-api" or not amz_date.startswith(date) or key not in secrets:
        return None
    at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs((datetime.datetime.now(datetime.timezone.utc) - at).total_seconds()) > MAX_SKEW_SECONDS:
        return None
    names = signed.split(";")
    if "host" not in names or any(n not in h for n in names):
        return None
    # botocore hashes X-Amz-Content-SHA256 instead of the body when the header is there: a
    # request must not be able to sign one body and send another.
    if "x-amz-content-sha256" in h and h["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
        return None
    request = AWSRequest(method=method, url=url, data=body, headers={n: h[n] for n in names})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key, secrets[key], h.get("x-amz-security-token")), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return key if hmac.compare_digest(expected, signature) else None


def event(method, path, headers, body, caller, account, key):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "version": "2.0",
        "routeKey": "POST /operator/{action}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "pathParameters": {"action": path.rsplit("/", 1)[-1]},
        "requestContext": {
            "accountId": account,
            "apiId": "local",
            "authorizer": {"iam": {"accessKey": key, "accountId": account, "callerId": key,
                                   "cognitoIdentity": None, "principalOrgId": None,
                                   "userArn": caller, "userId": key}},
            "domainName": headers.get("Host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": headers.get("User-Agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "POST /operator/{action}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def serve(port, functions_url, aws_endpoint):
    secrets = {os.environ["AWS_ACCESS_KEY_ID"]: os.environ["AWS_SECRET_ACCESS_KEY"]}
    identity = boto3.client("sts", endpoint_url=aws_endpoint).get_caller_identity()
    caller, account = identity["Arn"], identity["Account"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = dict(self.headers.items())
            url = f"http://{self.headers['Host']}{self.path}"
            if not self.path.startswith("/operator/"):
                return self.answer(404, {"message": "Not Found"})
            key = verify("POST", url, headers, body, secrets)
            if key is None:
                return self.answer(403, {"message": "Forbidden"})
            invoke = urllib.request.Request(
                f"{functions_url}/2015-03-31/functions/approval/invocations",
                data=json.dumps(event("POST", self.path, headers, body, caller, account, key)).encode(),
                headers={"content-type": "application/json"}, method="POST")
            with urllib.request.urlopen(invoke, timeout=60) as response:
                result = json.loads(response.read())
            self.answer(result.get("statusCode", 502), json.loads(result.get("body") or "{}"))

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "serve":
        sys.exit(__doc__)
    serve(*sys.argv[2:])
