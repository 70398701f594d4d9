"""Reading Slipway's ledger as the demo's scripts need it (src/ledger.rs has the layout):
a target's document, `targets/<target>/target.json`, holds its rollouts and the deployments
still running; a finished deployment has its own object, `deployments/<key>.json`."""
import json


def document(s3, bucket, target):
    body = s3.get_object(Bucket=bucket, Key=f"targets/{target}/target.json")["Body"].read()
    return json.loads(body)


def deployment(s3, bucket, target, key):
    try:
        body = s3.get_object(Bucket=bucket, Key=f"targets/{target}/deployments/{key}.json")["Body"].read()
        return json.loads(body)
    except s3.exceptions.NoSuchKey:
        return document(s3, bucket, target)["live"][key]
