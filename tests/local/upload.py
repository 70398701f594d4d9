"""Uploads a manifest to the local source bucket, as CI or an operator would, and writes
the EventBridge "Object Created" event S3 would send for it (the emulator sends none).

usage: upload.py <key> <file>   — prints the path of the event file it wrote
"""

import json
import os
import pathlib
import sys
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = ROOT / ".slipway"

key, path = sys.argv[1], sys.argv[2]
body = pathlib.Path(path).read_bytes()
bucket = os.environ["SLIPWAY_SOURCE_BUCKET"]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
put = s3.put_object(Bucket=bucket, Key=key, Body=body)

event = json.loads((ROOT / "events" / "s3-imagedefinitions.json").read_text())
now = time.time()
event["id"] = f"local-upload-{int(now * 1000)}"
event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
event["account"], event["region"] = os.environ["SLIPWAY_ACCOUNT_ID"], os.environ["AWS_REGION"]
event["resources"] = [f"arn:aws:s3:::{bucket}"]
event["detail"]["bucket"]["name"] = bucket
event["detail"]["object"] = {
    "key": key,
    "size": len(body),
    "etag": put["ETag"].strip('"'),
    "version-id": put["VersionId"],
    # Increasing with time, like S3's, so later uploads of a key order after earlier ones.
    "sequencer": "%018X" % int(now * 1_000_000),
}
(STATE / "events").mkdir(parents=True, exist_ok=True)
out = STATE / "events" / f"upload-{key.replace('/', '_').replace(' ', '_')}.json"
out.write_text(json.dumps(event, indent=2) + "\n")
print(out)
