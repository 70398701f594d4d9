"""Tells what the demo did, from the event, the function's answer and the emulator itself.

Exits 0 only if the service really runs a new revision pinned to the pushed digest with
the sidecar untouched.
"""

import json
import os
import sys

import boto3

event = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
before_arn = open(sys.argv[3]).read().strip()
ecs = boto3.client("ecs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])

detail = event["detail"]
digest = detail["image-digest"]
service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
after = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
before = ecs.describe_task_definition(taskDefinition=before_arn)["taskDefinition"]


def images(td):
    return {c["name"]: c["image"] for c in td["containerDefinitions"]}


def short(arn):
    return arn.split("/")[-1]


print()
print("── Slipway demo ─────────────────────────────────────────────")
print(f"event      ECR push {detail['repository-name']}:{detail['image-tag']} → {digest}")
print(f"           (event {event['id']}, {event['time']})")
targets = report.get("targets", [])
for t in targets:
    print(f"target     {t['target']}: {t['result']}  (deployment {t['deployment_id'][:40]}…)")
print(f"revision   {short(before['taskDefinitionArn'])} → {short(after['taskDefinitionArn'])}")
for name, old in images(before).items():
    new = images(after)[name]
    print(f"image      {name}: {old}")
    print(f"           {'→ ' + new if new != old else '(unchanged)'}")
print("read back  service demo/web runs", short(service["taskDefinition"]))
print("─────────────────────────────────────────────────────────────")

expected = f"{os.environ['SLIPWAY_ACCOUNT_ID']}.dkr.ecr.{os.environ['AWS_REGION']}.amazonaws.com/app@{digest}"
problems = []
if after["revision"] != before["revision"] + 1:
    problems.append(f"expected revision {before['revision'] + 1}, the service runs {after['revision']}")
if images(after).get("app") != expected:
    problems.append(f"container app runs {images(after).get('app')}, expected {expected}")
if images(after).get("log-router") != images(before).get("log-router"):
    problems.append("the log-router sidecar changed")
if [t.get("result") for t in targets] != ["rolling"]:
    problems.append(f"the function reported {targets}")
if problems:
    print("DEMO FAILED:", "; ".join(problems))
    sys.exit(1)
print("OK: the service is on the pushed digest; only the app container changed.")
