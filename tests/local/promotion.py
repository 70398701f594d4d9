"""Promotion on the local stack: prod-web takes only what succeeded on web (demo step 2).

  promotion.py waiting    prod-web's release of the demo's push waits for upstream: why
  promotion.py seconds    how long until the soak it waits for ends (for the demo's sleep)
  promotion.py wake-up    the one-time Scheduler schedule that wakes the reconciler when the
                          soak ends; writes what it invokes the reconciler with (moto never
                          fires a schedule: the demo plays Scheduler with it)
  promotion.py promoted   it went on, with its evidence: succeeded on web, soaked

Reads the ledger as the functions do (src/ledger.rs) and exits non-zero unless the release
is where the step says it is.
"""

import json
import os
import pathlib
import sys
from datetime import datetime, timezone

import boto3

import ledger

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = ROOT / ".slipway"
BUCKET = os.environ["SLIPWAY_LEDGER_BUCKET"]
TARGET = "prod-web"


def record():
    push = json.loads((STATE / "events" / "demo-push.json").read_text())
    digest = push["detail"]["image-digest"]
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
    return ledger.deployment(s3, BUCKET, TARGET, "img-" + digest.removeprefix("sha256:"))


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def waiting():
    found = record()
    check = found.get("promotion") or {}
    print(f"   Ledger: {found['id']} is {found['state']}: {check.get('waiting')}")
    if found["state"] != "waiting-for-upstream":
        sys.exit(f"DEMO FAILED: expected {TARGET} to wait for upstream, it is {found['state']}")


def seconds():
    again = (record().get("promotion") or {}).get("look_again_at")
    left = (when(again) - datetime.now(timezone.utc)).total_seconds() if again else 0
    print(max(0, int(left) + 1))


def wake_up():
    again = (record().get("promotion") or {}).get("look_again_at")
    group = os.environ.get("SLIPWAY_WAKE_UP_GROUP", "slipway-local-wake-ups")
    scheduler = boto3.client("scheduler", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                             region_name=os.environ["AWS_REGION"])
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    for name in names:
        schedule = scheduler.get_schedule(GroupName=group, Name=name)
        wake = json.loads(schedule["Target"]["Input"])
        if TARGET not in wake["detail"]["reason"]:
            continue
        at = when(schedule["ScheduleExpression"].removeprefix("at(").removesuffix(")") + "Z")
        print(f"   Scheduler: {name} wakes the reconciler at {at:%H:%M:%S} UTC"
              f" ({wake['detail']['reason']}; the soak ends at {when(again):%H:%M:%S})")
        if not again or at < when(again):
            sys.exit(f"DEMO FAILED: the wake-up at {at} is before the soak ends ({again})")
        (STATE / "events" / "wake-up.json").write_text(json.dumps(wake, indent=2) + "\n")
        return
    sys.exit(f"DEMO FAILED: no wake-up of the reconciler for {TARGET} in {group}: {names}")


def promoted():
    found = record()
    evidence = (found.get("promotion") or {}).get("evidence") or []
    print(f"   Ledger: {found['id']} is {found['state']}; the evidence it carries (approvers see it):")
    for e in evidence:
        soaked = e["soaked_seconds"]
        print(f"     succeeded on {e['upstream']} at {e['succeeded_at']} (ECS {e.get('ecs_deployment_id')}),"
              f" soaked {soaked // 60}m{soaked % 60:02d}s of {e['soak_seconds']}s")
    if not evidence or found["state"] not in ("rolling", "awaiting-approval"):
        sys.exit(f"DEMO FAILED: expected {TARGET} promoted with evidence, it is {found['state']}")


if __name__ == "__main__":
    {"waiting": waiting, "seconds": seconds, "wake-up": wake_up, "promoted": promoted}[sys.argv[1]]()
