"""Demo step 5's upload: web-prod's running task definition as a taskdef.json, with more
memory and the app's image left to Slipway (`<IMAGE>`: the image web-prod runs now)."""

import json
import os

import boto3

ecs = boto3.client("ecs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
service = ecs.describe_services(cluster="demo", services=["web-prod"])["services"][0]
td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
KEEP = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities",
        "cpu", "containerDefinitions", "volumes", "runtimePlatform")
manifest = {k: td[k] for k in KEEP if td.get(k) not in (None, [], {})}
manifest["memory"] = "2048"
for container in manifest["containerDefinitions"]:
    if container["name"] == "app":
        container["image"] = "<IMAGE>"
print(json.dumps(manifest, indent=2))
