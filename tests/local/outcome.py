"""How a rollout ended, on the local stack.

  outcome.py event [TARGET SERVICE [now]]   write the COMPLETED event, print its path
                                      (`now`: it ends now, not 3m12s after it started)
  outcome.py show                     the demo's check of how prod-web's rollout ended

The emulator emits no ECS events, so the tests play ECS's part: `event` writes the
"ECS Deployment State Change" COMPLETED event for the target's latest ECS deployment (read
from the ledger, as deployment-events will) and prints its path (make infra-integration);
`show` (demo step 4, after the reconciler read prod-web's canary SUCCESSFUL) prints the
notification Slipway published and the ledger record, and exits non-zero unless the
deployment is `succeeded`, the last known good release, and people were told so.
"""

import json
import os
import pathlib
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3

import ledger

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = ROOT / ".slipway"
REGION = os.environ["AWS_REGION"]
ACCOUNT = os.environ["SLIPWAY_ACCOUNT_ID"]
BUCKET = os.environ["SLIPWAY_LEDGER_BUCKET"]
# The demo's target; `outcome.py event TARGET SERVICE` names another (make infra-integration).
TARGET, SERVICE = sys.argv[2:4] if len(sys.argv) >= 4 else ("prod-web", "web-prod")
CLUSTER = "demo"


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def rollouts():
    return ledger.document(client("s3"), BUCKET, TARGET)["rollouts"]


def deployment(key):
    return ledger.deployment(client("s3"), BUCKET, TARGET, key)


def latest_rollout():
    return rollouts()["started"][-1]


def write_event():
    rollout = latest_rollout()
    record = deployment(rollout["key"])
    started = next(h["at"] for h in record["history"] if h["state"] == "rolling")
    # A rollout takes minutes on real ECS; the demo says it took 3m12s.
    # (ECS's times have whole seconds: round the start up so the demo shows 3m12s.)
    started = datetime.fromisoformat(started.replace("Z", "+00:00")).replace(microsecond=0)
    ended = started + timedelta(seconds=193)
    if len(sys.argv) >= 5 and sys.argv[4] == "now":
        ended = datetime.now(timezone.utc).replace(microsecond=0)
    event = json.loads((ROOT / "events" / "ecs-deployment-completed.json").read_text())
    event["id"] = f"demo-completed-{int(time.time())}"
    event["account"], event["region"] = ACCOUNT, REGION
    event["time"] = ended.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["resources"] = [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}"]
    event["detail"]["deploymentId"] = rollout["ecs_deployment_id"]
    event["detail"]["updatedAt"] = event["time"]
    event["detail"]["reason"] = f"ECS deployment {rollout['ecs_deployment_id']} completed."
    path = STATE / "events" / f"{TARGET}-completed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event, indent=2) + "\n")
    print(path)


def show():
    rollout = latest_rollout()
    record = deployment(rollout["key"])
    sqs = client("sqs")
    queue = sqs.get_queue_url(QueueName="slipway-approvals-inbox")["QueueUrl"]
    told = None
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            if " live on " in message["Body"] or " FAILED on " in message["Body"]:
                told = message["Body"]
        if told:
            break
    print(f"   Ledger: {record['id']} is {record['state']}; its history:")
    for entry in record["history"]:
        print(f"     {entry['at']}  {entry['state']:<17} {entry['note']}")
    if not told:
        sys.exit("DEMO FAILED: Slipway published no outcome notification")
    print("   The notification Slipway published (SNS → the inbox queue):")
    for line in told.splitlines():
        print(f"     | {line}")
    good = rollouts().get("last_good") or {}
    print(f"   Last known good release of {TARGET}: {good.get('release')} ({good.get('task_definition')})")
    if record["state"] != "succeeded" or good.get("deployment_id") != record["id"]:
        sys.exit("DEMO FAILED: ECS's SUCCESSFUL did not conclude the deployment")


if __name__ == "__main__":
    {"event": write_event, "show": show}[sys.argv[1]]()
