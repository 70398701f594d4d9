"""The IAM check must deny what IAM would deny: run by `make test` (local-tools-test)."""

import json
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import iam_check  # noqa: E402

SOURCE = "arn:aws:s3:::slipway-source"
APPROVAL = [
    {"sid": "SourceManifests", "actions": ["s3:GetObject", "s3:GetObjectVersion"],
     "resources": [f"{SOURCE}/deploy/*"], "condition": None},
    {"sid": "SourceManifestsList", "actions": ["s3:ListBucket"], "resources": [SOURCE],
     "condition": {"test": "StringLike", "variable": "s3:prefix", "values": ["deploy/*"]}},
    {"sid": "RollManagedServices", "actions": ["ecs:UpdateService"],
     "resources": ["arn:aws:ecs:us-east-1:123456789012:service/demo/web"],
     "condition": {"test": "ArnLike", "variable": "ecs:task-definition",
                   "values": ["arn:aws:ecs:us-east-1:123456789012:task-definition/web:*"]}},
    {"sid": "ReadSlipwaySecrets", "actions": ["secretsmanager:GetSecretValue"],
     "resources": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:slipway/keys-AbC123"], "condition": None},
]


def decide(statements, method, path, headers=None, body=b""):
    return [iam_check.evaluate(statements, *call)
            for call in iam_check.authorizations(method, path, headers or {}, body)]


S3 = {"authorization": "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/s3/aws4_request"}


class IamCheck(unittest.TestCase):
    def test_reading_an_upload_by_version_needs_the_source_grant(self):
        path = "/slipway-source/deploy/web/taskdef.json?versionId=abc"
        self.assertEqual(decide(APPROVAL, "GET", path, S3), ["SourceManifests"])
        # Item 2 of issue 17: without the grant, approving an upload is denied.
        self.assertEqual(decide(APPROVAL[1:], "GET", path, S3), [None])

    def test_listing_is_allowed_only_under_the_prefix(self):
        self.assertEqual(decide(APPROVAL, "GET", "/slipway-source?list-type=2&prefix=deploy/web/", S3),
                         ["SourceManifestsList"])
        self.assertEqual(decide(APPROVAL, "GET", "/slipway-source?list-type=2&prefix=other/", S3), [None])
        self.assertEqual(decide(APPROVAL, "GET", "/slipway-source?list-type=2", S3), [None])

    def test_update_service_only_onto_the_allowed_family(self):
        target = {"x-amz-target": "AmazonEC2ContainerServiceV20141113.UpdateService"}
        body = lambda td: json.dumps({"cluster": "demo", "service": "web", "taskDefinition": td}).encode()
        ok = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"
        other = "arn:aws:ecs:us-east-1:123456789012:task-definition/intruder:1"
        self.assertEqual(decide(APPROVAL, "POST", "/", target, body(ok)), ["RollManagedServices"])
        self.assertEqual(decide(APPROVAL, "POST", "/", target, body(other)), [None])

    def test_a_secret_named_without_its_suffix_matches_its_arn(self):
        target = {"x-amz-target": "secretsmanager.GetSecretValue"}
        self.assertEqual(decide(APPROVAL, "POST", "/", target, b'{"SecretId": "slipway/keys"}'),
                         ["ReadSlipwaySecrets"])
        self.assertEqual(decide(APPROVAL, "POST", "/", target, b'{"SecretId": "someone/else"}'), [None])

    def test_the_calling_function_is_read_from_the_sdk_user_agent(self):
        agent = "aws-sdk-rust/1.3 ua/2.1 api/ecs/1.157 os/linux lang/rust/1.95 app/image-push"
        self.assertEqual(iam_check.function_of({"x-amz-user-agent": agent}), "image-push")
        self.assertIsNone(iam_check.function_of({"user-agent": "Boto3/1.35 terraform"}))


if __name__ == "__main__":
    unittest.main()
