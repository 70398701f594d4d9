"""Tells what a demo step did, from the event, the function's answer and the emulator.

usage: story.py push|upload <event> <report> <task definition ARN before>

Exits 0 only if the service really runs what the step asked for: for `push`, a new
revision pinned to the pushed digest with the sidecar untouched; for `upload`, a new
revision of the uploaded taskdef.json with the image carried over from the running one.
"""

import json
import os
import sys

import boto3

kind, event_path, report_path, before_path = sys.argv[1:5]
event = json.load(open(event_path))
report = json.load(open(report_path))
before_arn = open(before_path).read().strip()
ecs = boto3.client("ecs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])

service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
after = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
before = ecs.describe_task_definition(taskDefinition=before_arn)["taskDefinition"]


def images(td):
    return {c["name"]: c["image"] for c in td["containerDefinitions"]}


def env_names(td, container="app"):
    found = [c for c in td["containerDefinitions"] if c["name"] == container]
    return [e["name"] for e in found[0].get("environment", [])] if found else []


def short(arn):
    return arn.split("/")[-1]


detail = event["detail"]
print()
print(f"── Slipway demo: {kind} ─────────────────────────────────────")
if kind == "push":
    print(f"event      ECR push {detail['repository-name']}:{detail['image-tag']} → {detail['image-digest']}")
else:
    obj = detail["object"]
    print(f"event      S3 upload s3://{detail['bucket']['name']}/{obj['key']} (version {obj['version-id'][:16]}…)")
print(f"           (event {event['id']}, {event['time']})")
targets = report.get("targets", [])
for t in targets:
    print(f"target     {t['target']}: {t['result']}  (deployment {t['deployment_id'][:40]}…)")
if kind == "push":
    print("           (prod-web: takes only what succeeded on web, and soaked there: step 2)")
print(f"revision   {short(before['taskDefinitionArn'])} → {short(after['taskDefinitionArn'])}")
for name, old in images(before).items():
    new = images(after).get(name, "(removed)")
    print(f"image      {name}: {old}")
    print(f"           {'→ ' + new if new != old else '(unchanged)'}")
if before.get("memory") != after.get("memory"):
    print(f"memory     {before.get('memory')} → {after.get('memory')}")
added = [n for n in env_names(after) if n not in env_names(before)]
if added:
    print(f"env (app)  + {', '.join(added)}  (names only; values are never shown)")
print("read back  service demo/web runs", short(service["taskDefinition"]))
print("─────────────────────────────────────────────────────────────")

problems = []
if after["revision"] != before["revision"] + 1:
    problems.append(f"expected revision {before['revision'] + 1}, the service runs {after['revision']}")
if [t.get("result") for t in targets if t["target"] == "web"] != ["rolling"]:
    problems.append(f"the function reported {targets}")
if images(after).get("log-router") != images(before).get("log-router"):
    problems.append("the log-router sidecar changed")
if kind == "push":
    registry = f"{os.environ['SLIPWAY_ACCOUNT_ID']}.dkr.ecr.{os.environ['AWS_REGION']}.amazonaws.com"
    expected = f"{registry}/app@{detail['image-digest']}"
    if images(after).get("app") != expected:
        problems.append(f"container app runs {images(after).get('app')}, expected {expected}")
else:
    if images(after).get("app") != images(before).get("app"):
        problems.append("the <IMAGE> placeholder was not filled from the running image")
    if after.get("memory") != "1024" or "CHECKOUT_V2" not in env_names(after):
        problems.append("the uploaded task definition was not registered as given")
if problems:
    print("DEMO FAILED:", "; ".join(problems))
    sys.exit(1)
if kind == "push":
    print("OK: the service is on the pushed digest; only the app container changed.")
else:
    print("OK: the uploaded task definition runs, with the image it was already running.")
