"""What the demo needs beyond what Terraform created (infra/environments/local).

Terraform creates the ECR repository `app`, cluster `demo` with services `web` (auto, with
a `log-router` sidecar the push must not touch) and `web-prod` (approval), Slipway's
buckets, topic, inbox queue and secrets (`make up` puts the signing keys as `make
signing-key` does). This pushes the first image (v1.4.1, which both services start on)
and a second one (v1.4.2), and writes
the ECR push event for v1.4.2 from what put_image returned (the emulator emits no events
of its own).

Reads the endpoint and names from the environment written by `make up`.
"""

import json
import os
import pathlib
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = ROOT / ".slipway"
ACCOUNT = os.environ["SLIPWAY_ACCOUNT_ID"]
REGION = os.environ["AWS_REGION"]


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
    ecr = client("ecr")

    # CI's first push: the release both services start on (their task definitions name
    # app:v1.4.1; Slipway pins each later push to its digest).
    running = put_image(ecr, "v1.4.1", 1)

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
    print(f"setup: pushed app:v1.4.1 ({running[:19]}…), which demo/web and demo/web-prod start on, "
          f"then app:v1.4.2 ({pushed[:19]}…)")


if __name__ == "__main__":
    main()
