"""Puts (or rotates) the approval-link signing keys in their Secrets Manager secret.

  make signing-key SECRET=slipway-prod/approval-signing-keys   (Terraform output signing_key_secret)

The first run writes {"current": <new>, "previous": null}; each later run moves current to
previous and writes a new current, so links already sent keep working for one rotation.
Uses the usual AWS credentials and region (AWS_PROFILE, AWS_REGION; AWS_ENDPOINT_URL locally).
"""

import json
import secrets
import sys
import time

import boto3


def main():
    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: make signing-key SECRET=<secret name, Terraform output signing_key_secret>")
    name = sys.argv[1]
    client = boto3.client("secretsmanager")
    try:
        current = json.loads(client.get_secret_value(SecretId=name)["SecretString"])["current"]
    except client.exceptions.ResourceNotFoundException as err:
        if "can't find the specified secret." in str(err).lower() and "value" not in str(err).lower():
            sys.exit(f"no secret {name}: apply the Terraform first (it creates the secret, empty)")
        current = None  # the secret exists but has no value yet
    new = {"id": time.strftime("k%Y%m%d%H%M%S", time.gmtime()), "secret": secrets.token_urlsafe(48)}
    client.put_secret_value(SecretId=name, SecretString=json.dumps({"current": new, "previous": current}))
    print(f"{name}: new current key {new['id']}" + (f", previous {current['id']}" if current else ""))
    print("Functions read the keys at cold start: new links use the new key once they restart.")


if __name__ == "__main__":
    main()
