"""REFERENCE, NOT SLIPWAY: the common pattern a team writes today, kept here only to be
measured against (tests/bench, BENCHMARKS.md).

An ECR push event triggers this Lambda, which tells ECS to restart the service with
`forceNewDeployment=True`. The task definition is not touched: the service re-pulls
whatever its mutable tag points at by then, so what runs is never pinned to the pushed
digest, and nothing stops an older push from landing last.

Configured by TARGET_CLUSTER, TARGET_SERVICE and TARGET_REPOSITORY.
"""

import os

import boto3

# Clients are built at init, outside the handler, as AWS's guidance says.
ecs = boto3.client("ecs")
CLUSTER = os.environ["TARGET_CLUSTER"]
SERVICE = os.environ["TARGET_SERVICE"]
REPOSITORY = os.environ["TARGET_REPOSITORY"]


def handler(event, context):
    detail = event.get("detail", {})
    if detail.get("action-type") != "PUSH" or detail.get("result") != "SUCCESS":
        return {"ignored": "not a successful push"}
    if detail.get("repository-name") != REPOSITORY:
        return {"ignored": f"repository {detail.get('repository-name')} is not {REPOSITORY}"}
    response = ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    deployment = next(d for d in response["service"]["deployments"] if d["status"] == "PRIMARY")
    return {"service": SERVICE, "ecs_deployment_id": deployment["id"]}
