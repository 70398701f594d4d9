"""Demo step 3: the approval a person gives, end to end on the local stack.

prod-web is a canary whose approval is ECS's pause after test traffic: the push rolled it,
and ECS (played by ecs_deployments.py) waits. Reads the approval email from the SQS queue
subscribed to the approvals topic, prints it and its link (open it in a browser while
`make up` runs), then does what the person does: GET the link (which changes nothing), and
POST the page's Approve form with its token and nonce. Exits 0 only if the GET left the
request waiting and answered nothing to ECS, and the POST continued ECS's pause exactly
once, with demo/web-prod on the pushed digest.

`approve.py upload` (demo step 5) does the same for the taskdef.json uploaded for
prod-web: its canary runs exactly the uploaded definition with the image web-prod was
running, and approving continues it.
"""

import html
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import boto3

import ledger

REGION = os.environ["AWS_REGION"]


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def fetch(url, form=None):
    data = urllib.parse.urlencode(form).encode() if form else None
    request = urllib.request.Request(url, data=data)
    if data:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def text_of(page, tag):
    found = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def ledger_state(deployment_id):
    target, key = deployment_id.split(".", 1)
    bucket = os.environ["SLIPWAY_LEDGER_BUCKET"]
    return ledger.deployment(client("s3"), bucket, target, key)["state"]


def continues():
    """The ContinueServiceDeployment calls ECS (the stand-in) accepted: [arn, hook, action]."""
    path = os.environ.get("SLIPWAY_ECS_DEPLOYMENTS", ".slipway/ecs-deployments.json")
    with open(path) as f:
        return json.load(f)["continues"]


def request_email(kind):
    """The newest approval email for a prod-web deployment of `kind` (img- or src-)."""
    sqs = client("sqs")
    queue = sqs.get_queue_url(QueueName="slipway-approvals-inbox")["QueueUrl"]
    emails = []
    for _ in range(10):
        answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            emails.append(message["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        found = [e for e in emails if f"Deployment prod-web.{kind}-" in e]
        if found:
            return found[-1]
    sys.exit(f"DEMO FAILED: no approval request for a prod-web {kind}- deployment was published")


def approve_upload():
    ecs = client("ecs")
    email = request_email("src")
    link = next(word for word in email.split() if word.startswith(os.environ["SLIPWAY_APPROVAL_URL"]))
    deployment_id = urllib.parse.urlparse(link).path.rsplit("/", 1)[-1]
    target, key = deployment_id.split(".", 1)
    record = ledger.deployment(client("s3"), os.environ["SLIPWAY_LEDGER_BUCKET"], target, key)
    before = record["from_task_definition"]
    running = ecs.describe_task_definition(taskDefinition=before)["taskDefinition"]
    answered = len(continues())
    print(f"   the request: {deployment_id} (link {link[:80]}…)")
    status, page = fetch(link)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    if status != 200 or not nonce:
        sys.exit(f"DEMO FAILED: the confirm page answered {status}: {page[:300]}")
    token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["t"][0]
    action = urllib.parse.urljoin(link, html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1)))
    status, result = fetch(action, {"t": token, "nonce": nonce.group(1), "decision": "approve", "name": "Demo Operator"})
    print(f"   POST → {status}: \"{text_of(result, 'h1')}\" — {text_of(result, 'p')}")
    after = ecs.describe_services(cluster="demo", services=["web-prod"])["services"][0]["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=after)["taskDefinition"]
    print(f"   read back  service demo/web-prod runs {after.split('/')[-1]} (memory {td.get('memory')}), "
          f"image {next(c['image'] for c in td['containerDefinitions'] if c['name'] == 'app').split('@')[-1][:19]}…")
    problems = []
    if status != 200 or after == before:
        problems.append(f"the approval answered {status} and web-prod still runs {before.split('/')[-1]}")
    if td.get("memory") != "2048":
        problems.append(f"web-prod runs memory {td.get('memory')}, not the uploaded 2048")
    app = lambda d: next(c["image"] for c in d["containerDefinitions"] if c["name"] == "app")
    if app(td) != app(running):
        problems.append("the image was not carried over from what web-prod ran")
    if ledger_state(deployment_id) != "rolling":
        problems.append(f"the ledger says {ledger_state(deployment_id)}, expected rolling")
    if len(continues()) != answered + 1 or continues()[-1][2] != "CONTINUE":
        problems.append(f"ECS was answered {continues()[answered:]}, not one CONTINUE")
    if problems:
        sys.exit("DEMO FAILED: " + "; ".join(problems))
    print("OK: the upload's canary runs exactly what was uploaded, and the approval continued it once.")


def main():
    if sys.argv[1:] == ["upload"]:
        return approve_upload()
    email = request_email("img")
    print("   The email the approvers got (SNS → the queue standing in for their inbox):")
    for line in email.splitlines():
        print("   │ " + line)
    link = next(word for word in email.split() if word.startswith(os.environ["SLIPWAY_APPROVAL_URL"]))
    deployment_id = urllib.parse.urlparse(link).path.rsplit("/", 1)[-1]
    print(f"\n   A person opens the link in a browser (while `make up` runs, so can you):\n   {link}\n")

    status, page = fetch(link)
    state = ledger_state(deployment_id)
    print(f"   GET  → {status}: \"{text_of(page, 'h1')}\"; the ledger still says {state} (a GET never acts)")
    problems = []
    if status != 200 or state != "awaiting-approval" or continues():
        problems.append(f"GET answered {status}, left the deployment {state}, ECS was answered {continues()}")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["t"][0]
    if not nonce:
        sys.exit("DEMO FAILED: the confirm page has no form: " + page[:500])
    action = urllib.parse.urljoin(link, html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1)))
    status, result = fetch(action, {"t": token, "nonce": nonce.group(1), "decision": "approve", "name": "Demo Operator"})
    print(f"   POST → {status}: \"{text_of(result, 'h1')}\" — {text_of(result, 'p')}")

    ecs = client("ecs")
    service = ecs.describe_services(cluster="demo", services=["web-prod"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    image = td["containerDefinitions"][0]["image"]
    print(f"   read back  service demo/web-prod runs {service['taskDefinition'].split('/')[-1]}: {image}")
    push = json.load(open(os.path.join(os.path.dirname(__file__), "../../.slipway/events/demo-push.json")))
    if status != 200 or not image.endswith("@" + push["detail"]["image-digest"]):
        problems.append(f"the approval answered {status} and web-prod runs {image}")
    if ledger_state(deployment_id) != "rolling":
        problems.append(f"the ledger says {ledger_state(deployment_id)}, expected rolling")
    again, _ = fetch(action, {"t": token, "nonce": nonce.group(1), "decision": "approve", "name": "Someone Else"})
    print(f"   POST again → {again}: already decided, nothing changed")
    if again != 409:
        problems.append(f"a second POST answered {again}")
    answered = continues()
    print(f"   ECS was answered: {[(a[1][:24] + '…', a[2]) for a in answered]}")
    if [a[2] for a in answered] != ["CONTINUE"]:
        problems.append(f"ECS's pause was answered {answered}, not exactly one CONTINUE")
    if problems:
        sys.exit("DEMO FAILED: " + "; ".join(problems))
    print("OK: ECS held the canary at the test listener until a person approved on the page; then")
    print("    Slipway continued it, once (ContinueServiceDeployment CONTINUE).")


if __name__ == "__main__":
    main()
