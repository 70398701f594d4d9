"""The IAM check must deny what IAM would deny: run by `make test` (local-tools-test)."""

import contextlib
import io
import json
import os
import pathlib
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import iam_check  # noqa: E402

SOURCE = "arn:aws:s3:::slipway-source"
# The approval role's policy as IAM stores it (the shape GetRolePolicy returns).
APPROVAL_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "SourceManifests", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
     "Resource": f"{SOURCE}/deploy/*"},
    {"Sid": "SourceManifestsList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": SOURCE,
     "Condition": {"StringLike": {"s3:prefix": "deploy/*"}}},
    {"Sid": "RollManagedServices", "Effect": "Allow", "Action": "ecs:UpdateService",
     "Resource": "arn:aws:ecs:us-east-1:123456789012:service/demo/web",
     "Condition": {"ArnLike": {"ecs:task-definition": ["arn:aws:ecs:us-east-1:123456789012:task-definition/web:*"]}}},
    {"Sid": "ReadSlipwaySecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
     "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slipway/keys-AbC123"},
]}
APPROVAL = iam_check.statements_from_policy(APPROVAL_POLICY)


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

    def test_a_missing_object_needs_list_bucket_on_the_bucket_without_a_prefix(self):
        self.assertEqual(iam_check.missing_object("GET", "/slipway-source/deploy/web/taskdef.json?versionId=v", S3, 404),
                         SOURCE)
        self.assertIsNone(iam_check.missing_object("GET", "/slipway-source/deploy/web/taskdef.json", S3, 200))
        self.assertIsNone(iam_check.missing_object("GET", "/slipway-source?list-type=2", S3, 404))
        # The decision between 404 and 403 has no s3:prefix: a prefix-conditioned grant does not count.
        self.assertIsNone(iam_check.evaluate(APPROVAL, "s3:ListBucket", SOURCE, {}))
        whole = iam_check.statements_from_policy({"Statement": [
            {"Sid": "SourceList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": SOURCE}]})
        self.assertEqual(iam_check.evaluate(whole, "s3:ListBucket", SOURCE, {}), "SourceList")
        self.assertEqual(iam_check.access_denied()[0], 403)

    def test_an_explicit_deny_beats_an_allow(self):
        deny = iam_check.statements_from_policy({"Statement": [
            {"Sid": "NoOldVersions", "Effect": "Deny", "Action": "s3:GetObjectVersion", "Resource": "*"}]})
        path = "/slipway-source/deploy/web/taskdef.json?versionId=abc"
        self.assertEqual(decide(APPROVAL + deny, "GET", path, S3), [None])
        self.assertEqual(decide(APPROVAL + deny, "GET", "/slipway-source/deploy/web/taskdef.json", S3),
                         ["SourceManifests"])

    def test_every_condition_of_a_statement_must_hold(self):
        both = iam_check.statements_from_policy({"Statement": [
            {"Sid": "Both", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": SOURCE,
             "Condition": {"StringLike": {"s3:prefix": "deploy/*"}, "StringEquals": {"s3:delimiter": "/"}}}]})
        self.assertEqual(decide(both, "GET", "/slipway-source?list-type=2&prefix=deploy/web/", S3), [None])

    def test_a_policy_document_is_read_url_encoded_as_iam_returns_it(self):
        encoded = urllib.parse.quote(json.dumps(APPROVAL_POLICY))
        self.assertEqual(iam_check.statements_from_policy(encoded), APPROVAL)

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

    def test_a_canary_update_service_passes_the_load_balancer_role_to_ecs_only(self):
        target = {"x-amz-target": "AmazonEC2ContainerServiceV20141113.UpdateService"}
        role = "arn:aws:iam::123456789012:role/web-prod-ecs-infrastructure"
        policy = iam_check.statements_from_policy({"Version": "2012-10-17", "Statement": [
            {"Sid": "Roll", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"},
            {"Sid": "PassLoadBalancerRolesToEcs", "Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
             "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}}]})
        body = json.dumps({"cluster": "demo", "service": "web-prod", "taskDefinition": "web-prod:2",
                           "loadBalancers": [{"advancedConfiguration": {"roleArn": role}}]}).encode()
        self.assertEqual(decide(policy, "POST", "/", target, body), ["Roll", "PassLoadBalancerRolesToEcs"])
        other = body.replace(b"web-prod-ecs-infrastructure", b"admin")
        self.assertEqual(decide(policy, "POST", "/", target, other), ["Roll", None])

    def test_a_lambda_hook_passes_its_invoke_role_to_ecs(self):
        target = {"x-amz-target": "AmazonEC2ContainerServiceV20141113.UpdateService"}
        role = "arn:aws:iam::123456789012:role/slipway-ecs-hooks"
        policy = iam_check.statements_from_policy({"Version": "2012-10-17", "Statement": [
            {"Sid": "Roll", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"},
            {"Sid": "PassHookRoleToEcs", "Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
             "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}}]})
        hook = {"targetType": "AWS_LAMBDA", "roleArn": role,
                "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:slipway-test-probe",
                "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
        body = json.dumps({"cluster": "demo", "service": "web-prod", "taskDefinition": "web-prod:2",
                           "deploymentConfiguration": {"lifecycleHooks": [hook]}}).encode()
        self.assertEqual(decide(policy, "POST", "/", target, body), ["Roll", "PassHookRoleToEcs"])
        without = iam_check.statements_from_policy({"Version": "2012-10-17", "Statement": [
            {"Sid": "Roll", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"}]})
        self.assertEqual(decide(without, "POST", "/", target, body), ["Roll", None])

    def test_a_wake_up_is_scheduled_in_slipways_group_passing_its_role_to_scheduler(self):
        scheduler = {"authorization": "AWS4-HMAC-SHA256 Credential=t/20261207/us-east-1/scheduler/aws4_request"}
        role = "arn:aws:iam::123456789012:role/slipway-wake-ups"
        policy = iam_check.statements_from_policy({"Version": "2012-10-17", "Statement": [
            {"Sid": "ScheduleWakeUps", "Effect": "Allow", "Action": "scheduler:CreateSchedule",
             "Resource": "arn:aws:scheduler:us-east-1:123456789012:schedule/slipway-wake-ups/*"},
            {"Sid": "PassWakeUpRoleToScheduler", "Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
             "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}}]})
        body = {"GroupName": "slipway-wake-ups", "ScheduleExpression": "at(2026-12-07T07:00:00)",
                "Target": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:slipway-reconcile",
                           "RoleArn": role}}
        path = "/schedules/20261207T0700Z-0123456789abcdef"
        self.assertEqual(decide(policy, "POST", path, scheduler, json.dumps(body).encode()),
                         ["ScheduleWakeUps", "PassWakeUpRoleToScheduler"])
        # Another group, or another role: denied.
        other = dict(body, GroupName="default")
        self.assertEqual(decide(policy, "POST", path, scheduler, json.dumps(other).encode()),
                         [None, "PassWakeUpRoleToScheduler"])
        admin = dict(body, Target=dict(body["Target"], RoleArn="arn:aws:iam::123456789012:role/admin"))
        self.assertEqual(decide(policy, "POST", path, scheduler, json.dumps(admin).encode()),
                         ["ScheduleWakeUps", None])

    def test_a_promotion_hint_is_put_on_the_promotion_bus_only(self):
        target = {"x-amz-target": "AWSEvents.PutEvents"}
        bus = "arn:aws:events:us-east-1:123456789012:event-bus/slipway-promotion"
        policy = iam_check.statements_from_policy({"Version": "2012-10-17", "Statement": [
            {"Sid": "PublishPromotionHints", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]})
        hint = {"Entries": [{"EventBusName": "slipway-promotion", "Source": "slipway.promotion",
                             "DetailType": "Slipway Upstream Succeeded", "Detail": "{}"}]}
        self.assertEqual(decide(policy, "POST", "/", target, json.dumps(hint).encode()),
                         ["PublishPromotionHints"])
        default = {"Entries": [dict(hint["Entries"][0], EventBusName=None)]}
        self.assertEqual(decide(policy, "POST", "/", target, json.dumps(default).encode()), [None])

    def test_answering_a_pause_needs_the_service_deployment_and_its_service(self):
        target = {"x-amz-target": "AmazonEC2ContainerServiceV20141113.ContinueServiceDeployment"}
        deployment = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web-prod/abc"
        only_deployments = iam_check.statements_from_policy({"Version": "2012-10-17", "Statement": [
            {"Sid": "Answer", "Effect": "Allow", "Action": "ecs:ContinueServiceDeployment",
             "Resource": "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web-prod/*"}]})
        body = json.dumps({"serviceDeploymentArn": deployment, "hookId": "h", "action": "CONTINUE"}).encode()
        self.assertEqual(decide(only_deployments, "POST", "/", target, body), ["Answer", None],
                         "the service resource is required too")

    def test_a_secret_named_without_its_suffix_matches_its_arn(self):
        target = {"x-amz-target": "secretsmanager.GetSecretValue"}
        self.assertEqual(decide(APPROVAL, "POST", "/", target, b'{"SecretId": "slipway/keys"}'),
                         ["ReadSlipwaySecrets"])
        self.assertEqual(decide(APPROVAL, "POST", "/", target, b'{"SecretId": "someone/else"}'), [None])

    def test_a_call_is_tied_to_the_role_whose_assumed_key_signed_it(self):
        body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fslipway-local-approval&RoleSessionName=approval"
        self.assertEqual(iam_check.assumed_role(body),
                         ("arn:aws:iam::123456789012:role/slipway-local-approval", "approval"))
        self.assertIsNone(iam_check.assumed_role(b"Action=GetCallerIdentity&Version=2011-06-15"))
        answer = b"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId>"
        self.assertEqual(iam_check.issued_key(answer), "ASIAEXAMPLE")
        signed = {"authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261203/us-east-1/s3/aws4_request, SignedHeaders=host"}
        self.assertEqual(iam_check.access_key_of(signed, "/bucket/key"), "ASIAEXAMPLE")
        self.assertEqual(iam_check.access_key_of({}, "/b/k?X-Amz-Credential=ASIAPRESIGNED%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"),
                         "ASIAPRESIGNED")

    def test_the_report_fails_on_a_function_that_did_not_run_as_its_role(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as log:
            log.write(json.dumps({"role": "arn:aws:iam::123456789012:role/slipway-local-approval",
                                  "function": "approval", "statements": APPROVAL}) + "\n")
            log.write(json.dumps({"function": "approval", "role": "arn:aws:iam::123456789012:role/slipway-local-approval",
                                  "action": "s3:GetObject", "resource": f"{SOURCE}/deploy/x", "context": {},
                                  "allowed_by": "SourceManifests"}) + "\n")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(iam_check.report(log.name), 0)
        self.assertIn("1 calls checked", out.getvalue())
        self.assertIn("approval as slipway-local-approval", out.getvalue())
        self.assertIn("RollManagedServices", out.getvalue())  # granted, never used
        with open(log.name, "a") as f:
            f.write(json.dumps({"function": "image-push", "role": None, "action": "ecs:UpdateService",
                                "resource": "arn:aws:ecs:us-east-1:123456789012:service/demo/web", "context": {},
                                "allowed_by": None, "reason": "not signed with an assumed role's credentials"}) + "\n")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(iam_check.report(log.name), 1)
        self.assertIn("DENIED  image-push: ecs:UpdateService", out.getvalue())
        self.assertIn("not signed with an assumed role's credentials", out.getvalue())
        os.unlink(log.name)

    def test_the_calling_function_is_read_from_the_sdk_user_agent(self):
        agent = "aws-sdk-rust/1.3 ua/2.1 api/ecs/1.157 os/linux lang/rust/1.95 app/image-push"
        self.assertEqual(iam_check.function_of({"x-amz-user-agent": agent}), "image-push")
        self.assertIsNone(iam_check.function_of({"user-agent": "Boto3/1.35 terraform"}))
        # The operator's command line runs with an operator's credentials, not a role.
        cli = "aws-sdk-rust/1.3 ua/2.1 api/s3/1.157 os/linux lang/rust/1.95 app/slipway-cli"
        self.assertIsNone(iam_check.function_of({"x-amz-user-agent": cli}))


if __name__ == "__main__":
    unittest.main()
