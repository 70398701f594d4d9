"""REFERENCE, NOT SLIPWAY: the same digest-pinned work Slipway does, written the way a team
would in Python with boto3, kept here only to be measured against (tests/bench,
BENCHMARKS.md). It has none of Slipway's guarantees (no ledger: duplicates register twice,
an older push can land last, no approvals, no outcome tracking).

DescribeServices -> DescribeTaskDefinition -> RegisterTaskDefinition (the container's image
pinned to repository@digest, everything else carried over) -> UpdateService.

Configured by TARGET_CLUSTER, TARGET_SERVICE, TARGET_REPOSITORY and TARGET_CONTAINER.
"""

import os

import boto3

ecs = boto3.client("ecs")
CLUSTER = os.environ["TARGET_CLUSTER"]
SERVICE = os.environ["TARGET_SERVICE"]
REPOSITORY = os.environ["TARGET_REPOSITORY"]
CONTAINER = os.environ["TARGET_CONTAINER"]

# What DescribeTaskDefinition returns and RegisterTaskDefinition refuses.
READ_ONLY = {"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
             "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt"}


def handler(event, context):
    detail = event.get("detail", {})
    if detail.get("action-type") != "PUSH" or detail.get("result") != "SUCCESS":
        return {"ignored": "not a successful push"}
    if detail.get("repository-name") != REPOSITORY:
        return {"ignored": f"repository {detail.get('repository-name')} is not {REPOSITORY}"}
    image = (f"{event['account']}.dkr.ecr.{event['region']}.amazonaws.com/"
             f"{REPOSITORY}@{detail['image-digest']}")

    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    described = ecs.describe_task_definition(taskDefinition=service["taskDefinition"],
                                             include=["TAGS"])
    definition = {k: v for k, v in described["taskDefinition"].items() if k not in READ_ONLY}
    for container in definition["containerDefinitions"]:
        if container["name"] == CONTAINER:
            container["image"] = image
    if described.get("tags"):
        definition["tags"] = described["tags"]
    registered = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    response = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=registered)
    deployment = next(d for d in response["service"]["deployments"] if d["status"] == "PRIMARY")
    return {"service": SERVICE, "task_definition": registered, "ecs_deployment_id": deployment["id"]}
