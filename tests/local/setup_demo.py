"""The demo's corner of AWS, created on the local emulator (Terraform takes this over later).

Creates an ECR repository `app` with a first image (v1.4.1) and a second one (v1.4.2),
an ECS cluster `demo` with service `web` running v1.4.1 in a task definition of two
containers (`app` and a `log-router` sidecar the push must not touch) and service
`web-prod` (target `prod-web`, policy `approval`), the ledger bucket, the approvals SNS
topic with an SQS queue subscribed (standing in for the approvers' inbox), the signing
keys in Secrets Manager, the targets config, and the ECR push event for v1.4.2 built
from what put_image returned (the emulator emits no events of its own).

Reads the endpoint and names from the environment written by `make up`.
"""

import json
import os
import pathlib
import secrets
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = ROOT / ".slipway"
ACCOUNT = os.environ["SLIPWAY_ACCOUNT_ID"]
REGION = os.environ["AWS_REGION"]
BUCKET = os.environ["SLIPWAY_LEDGER_BUCKET"]
SOURCE_BUCKET = os.environ["SLIPWAY_SOURCE_BUCKET"]


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def put_image(ecr, tag, n):
    # The emulator derives the digest from the layer digests, so distinct layers give
    # distinct images.
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                   "digest": "sha256:%064x" % n},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2811478,
                    "digest": "sha256:%064x" % (n + 1000)}],
    }
    image = ecr.put_image(repositoryName="app", imageManifest=json.dumps(manifest), imageTag=tag)["image"]
    return image["imageId"]["imageDigest"]


def main():
    ecr, ecs, s3 = client("ecr"), client("ecs"), client("s3")
    registry = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"

    ecr.create_repository(repositoryName="app")
    running = put_image(ecr, "v1.4.1", 1)
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=SOURCE_BUCKET)
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    ecs.create_cluster(clusterName="demo")
    td = ecs.register_task_definition(
        family="web",
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-task",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-execution",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": f"{registry}/app@{running}",
                "essential": True,
                "portMappings": [{"containerPort": 3000}],
                "environment": [{"name": "PORT", "value": "3000"}],
                "secrets": [{"name": "DATABASE_URL",
                             "valueFrom": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/web/database-url"}],
                "logConfiguration": {"logDriver": "awslogs",
                                     "options": {"awslogs-group": "/ecs/web", "awslogs-region": REGION}},
            },
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
                "essential": False,
                "memoryReservation": 50,
            },
        ],
        tags=[{"key": "Project", "value": "slipway-demo"}, {"key": "Environment", "value": "local"}],
    )["taskDefinition"]
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition=td["taskDefinitionArn"], desiredCount=2)
    prod_td = ecs.register_task_definition(
        family="web-prod",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-execution",
        containerDefinitions=[{"name": "app", "image": f"{registry}/app@{running}", "essential": True,
                               "environment": [{"name": "PORT", "value": "3000"}]}],
        tags=[{"key": "Project", "value": "slipway-demo"}, {"key": "Environment", "value": "local"}],
    )["taskDefinition"]
    ecs.create_service(cluster="demo", serviceName="web-prod", taskDefinition=prod_td["taskDefinitionArn"],
                       desiredCount=2)

    # Approvals: the topic approvers subscribe to (an SQS queue reads it here), and the
    # signing keys for approval links, in Secrets Manager as in AWS.
    sns, sqs, secretsmanager = client("sns"), client("sqs"), client("secretsmanager")
    topic = sns.create_topic(Name="slipway-approvals")["TopicArn"]
    queue = sqs.create_queue(QueueName="slipway-approvals-inbox")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:slipway-approvals-inbox",
                  Attributes={"RawMessageDelivery": "true"})
    secretsmanager.create_secret(Name=os.environ["SLIPWAY_SIGNING_KEY_SECRET"], SecretString=json.dumps(
        {"current": {"id": "local1", "secret": secrets.token_urlsafe(48)}, "previous": None}))

    (STATE / "targets.json").write_text(json.dumps({"targets": [{
        "name": "web",
        "cluster": "demo",
        "service": "web",
        "containers": ["app"],
        "repository": "app",
        "tags": {"semver": ">=1.0, <2"},
        "policy": "auto",
    }, {
        "name": "prod-web",
        "cluster": "demo",
        "service": "web-prod",
        "containers": ["app"],
        "repository": "app",
        "tags": {"semver": ">=1.0, <2"},
        "policy": "approval",
        "approval": {"expires_after_hours": 24},
    }]}, indent=2) + "\n")

    # CI pushes v1.4.2 a moment later.
    time.sleep(1.1)
    pushed = put_image(ecr, "v1.4.2", 2)
    event = json.loads((ROOT / "events" / "ecr-push.json").read_text())
    event["id"] = "demo-push-v1.4.2"
    event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event["account"], event["region"] = ACCOUNT, REGION
    event["resources"] = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app"]
    event["detail"]["image-digest"] = pushed
    event["detail"]["image-tag"] = "v1.4.2"
    (STATE / "events").mkdir(exist_ok=True)
    (STATE / "events" / "demo-push.json").write_text(json.dumps(event, indent=2) + "\n")
    print(f"setup: cluster demo, service web on {td['taskDefinitionArn'].split('/')[-1]} "
          f"running app:v1.4.1 ({running[:19]}…); pushed app:v1.4.2 ({pushed[:19]}…)")


if __name__ == "__main__":
    main()
