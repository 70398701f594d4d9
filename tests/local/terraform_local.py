"""The integration test of infra/environments/local: what Terraform created on the local
AWS is what Slipway runs on, and an ECR push replayed through it rolls the service.

  terraform_local.py wired   checks the resources Terraform created (before the push)
  terraform_local.py rolled  checks the push rolled demo/web (after `make invoke`)
  terraform_local.py missed-push   pushes app:v1.4.3 with no event (ECR's are best effort)
  terraform_local.py reconciled    checks the reconciler deployed it to demo/web
  terraform_local.py rolled-back ANSWER   checks web is back on the last known good release, and
                                         that the rollback records the signer's ARN
  terraform_local.py delete-upload EVENT   deletes the upload an S3 event names
  terraform_local.py deleted REPORT        checks source-upload said it was deleted (a 404,
                                           not the 403 S3 gives a role without ListBucket)
  terraform_local.py gone    checks `terraform destroy` removed them

The paths after the push run the reconciler and deployment-events through their own
roles too, so the IAM check sees the grants a push alone never uses.

Run by `tests/local/stack.sh infra-test` (`make infra-integration`, part of `make test`).
Reads the environment written by `make up` and the Terraform outputs in .slipway.
"""

import json
import os
import pathlib
import subprocess
import sys
import urllib.parse

import boto3
# The emulator has no TestEventPattern; its own matcher (what it routes PutEvents with) decides.
from moto.events.models import EventPattern

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = ROOT / ".slipway"
REGION = os.environ["AWS_REGION"]
FUNCTIONS = ["image-push", "source-upload", "deployment-events", "reconcile", "approval", "test-probe"]


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def outputs():
    out = subprocess.run(
        ["terraform", f"-chdir={ROOT}/infra/environments/local", "output", f"-state={STATE}/terraform.tfstate", "-json"],
        check=True, capture_output=True, text=True).stdout
    return {name: value["value"] for name, value in json.loads(out).items()}


failures = []


def check(condition, what):
    print(("   ok    " if condition else "   FAIL  ") + what)
    if not condition:
        failures.append(what)


def push_event():
    return json.loads((STATE / "events" / "demo-push.json").read_text())


def wired():
    out = outputs()
    lam, events, ecs, s3 = client("lambda"), client("events"), client("ecs"), client("s3")

    names = out["function_names"]
    for function in FUNCTIONS:
        config = lam.get_function_configuration(FunctionName=names[function])
        check(config["Runtime"] == "provided.al2023" and config["Handler"] == "bootstrap",
              f"{names[function]}: provided.al2023, handler bootstrap")
        check(config.get("Environment", {}).get("Variables") == out["function_environment"][function],
              f"{names[function]}: the stored environment is the one cargo lambda watch runs with")
        check(config["Role"] == out["function_role_arns"][function],
              f"{names[function]}: runs as the role the local stack assumes for it")
    roles = out["function_role_arns"]
    check(len(set(roles.values())) == len(FUNCTIONS), f"each function has a role of its own ({sorted(roles.values())})")
    # The approval endpoint: an HTTP API proxying to the function (payload 2.0), and the
    # function's only grant is to API Gateway from that API (no function URL, no "*").
    apigw = client("apigatewayv2")
    apis = [a for a in apigw.get_apis()["Items"] if a["Name"] == "slipway-local-approval"]
    check(len(apis) == 1 and apis[0]["ProtocolType"] == "HTTP", "the approval HTTP API exists")
    if apis:
        api = apis[0]
        integrations = apigw.get_integrations(ApiId=api["ApiId"])["Items"]
        check(len(integrations) == 1 and integrations[0]["PayloadFormatVersion"] == "2.0"
              and integrations[0]["IntegrationUri"].endswith(f"function:{names['approval']}/invocations"),
              "the approval API proxies to the approval function with payload format 2.0")
        items = apigw.get_routes(ApiId=api["ApiId"])["Items"]
        routes = sorted(r["RouteKey"] for r in items)
        check(routes == ["GET /approvals/{id}", "GET /group-approvals/{id}", "POST /approvals/{id}", "POST /group-approvals/{id}", "POST /operator/{action}", "POST /slack/interactions"],
              f"the approval API routes the page, the decision, Slack and the operator endpoint ({routes})")
        auth = {r["RouteKey"]: r.get("AuthorizationType") for r in items}
        check(auth.get("POST /operator/{action}") == "AWS_IAM"
              and all(a in (None, "NONE") for k, a in auth.items() if k != "POST /operator/{action}"),
              f"only the operator endpoint has IAM authorization ({auth})")
        check(out["approval_url"] == api["ApiEndpoint"] + "/", "approval links point at the API's $default stage")
    policy = json.loads(lam.get_policy(FunctionName=names["approval"])["Policy"])
    principals = [s["Principal"] for s in policy["Statement"]]
    check(principals == [{"Service": "apigateway.amazonaws.com"}] and all(
        s["Action"] == "lambda:InvokeFunction" for s in policy["Statement"]),
          f"the approval function may be invoked by API Gateway only ({principals})")
    try:
        lam.get_function_url_config(FunctionName=names["approval"])
        check(False, "the approval function has no function URL")
    except lam.exceptions.ResourceNotFoundException:
        check(True, "the approval function has no function URL")

    # The push reaches image-push: the rule's pattern matches it and targets the function.
    event = push_event()
    listed = events.list_rules(NamePrefix="slipway-local-")["Rules"]
    rules = {r["Name"]: EventPattern.load(r["EventPattern"]) for r in listed if r.get("EventPattern")}
    check(sorted(rules) == ["slipway-local-ecs-deployments", "slipway-local-ecs-hooks", "slipway-local-image-push",
                            "slipway-local-source-upload"],
          f"four rules on the default bus: ECR pushes, S3 uploads, ECS deployments, ECS hooks ({sorted(rules)})")
    schedules = {r["Name"]: r.get("ScheduleExpression") for r in listed if not r.get("EventPattern")}
    check(schedules == {"slipway-local-reconcile": "rate(5 minutes)"},
          f"the reconciler runs every 5 minutes ({schedules})")
    reconcile_targets = events.list_targets_by_rule(Rule="slipway-local-reconcile")["Targets"]
    check([t["Arn"].split(":")[-1] for t in reconcile_targets] == [names["reconcile"]],
          "the schedule invokes the reconcile function")
    operator_rules = {r["Name"]: EventPattern.load(r["EventPattern"])
                      for r in events.list_rules(EventBusName="slipway-local-operator")["Rules"]}
    check(sorted(operator_rules) == ["slipway-local-operator-requests"],
          f"operator requests are read from the operator bus only ({sorted(operator_rules)})")
    bus_policy = json.loads(events.describe_event_bus(Name="slipway-local-operator").get("Policy", "{}"))
    check(any(st.get("Effect") == "Deny" and "events:PutEvents" in str(st.get("Action"))
              for st in bus_policy.get("Statement", [])),
          "the operator bus denies PutEvents to everyone but the operator principals")
    rules.update(operator_rules)
    matches = {name for name, pattern in rules.items() if pattern.matches_event(event)}
    check(matches == {"slipway-local-image-push"}, f"the ECR push matches exactly the image-push rule (matched: {sorted(matches)})")
    other_repo = dict(event, detail=dict(event["detail"], **{"repository-name": "someone-else"}))
    check(not any(pattern.matches_event(other_repo) for pattern in rules.values()),
          "a push to a repository no target names matches no rule")
    for name, file in [("slipway-local-ecs-deployments", "ecs-deployment-completed.json"),
                       ("slipway-local-ecs-hooks", "ecs-hook-awaiting-action.json"),
                       ("slipway-local-operator-requests", "operator-rollback.json")]:
        sample = json.loads((ROOT / "events" / file).read_text())
        # The sample events name account 123456789012 and us-east-1, as the emulator does.
        check(rules[name].matches_event(sample), f"events/{file} matches {name}")
    targets = events.list_targets_by_rule(Rule="slipway-local-image-push")["Targets"]
    image_push_arn = lam.get_function_configuration(FunctionName=names["image-push"])["FunctionArn"]
    check(len(targets) == 1 and targets[0]["Arn"] == image_push_arn, "the image-push rule invokes the image-push function")
    check(bool(targets and targets[0].get("DeadLetterConfig", {}).get("Arn", "").endswith("image-push-dead-letters")),
          "undeliverable pushes go to image-push's dead-letter queue")
    invoke_config = lam.get_function_event_invoke_config(FunctionName=names["image-push"])
    check(invoke_config["MaximumRetryAttempts"] == 2 and
          invoke_config["DestinationConfig"]["OnFailure"]["Destination"].endswith("image-push-dead-letters"),
          "failed image-push invocations retry twice, then go to the dead-letter queue")

    versioning = s3.get_bucket_versioning(Bucket=out["source_bucket"])
    check(versioning.get("Status") == "Enabled", "the source bucket is versioned")

    iam = client("iam")
    role_name = out["github_ci_role_arn"].split("/")[-1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(urllib.parse.unquote(trust))
    statement = trust["Statement"][0]
    check(statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
          and statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] == ["repo:acme/shop:ref:refs/heads/main"],
          "the CI role trusts GitHub's OIDC provider for acme/shop's main branch only")
    permissions = iam.get_role_policy(RoleName=role_name, PolicyName="push-and-upload")["PolicyDocument"]
    if isinstance(permissions, str):
        permissions = json.loads(urllib.parse.unquote(permissions))
    resources = {s["Sid"]: s["Resource"] for s in permissions["Statement"]}
    check(resources.get("EcrPushApp") == [f"arn:aws:ecr:{REGION}:{out['account_id']}:repository/app"]
          and resources.get("UploadDeployManifests") == [f"arn:aws:s3:::{out['source_bucket']}/deploy/*"],
          "the CI role may push to the app repository and write deploy/ of the source bucket, nothing else")
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    check(service["taskDefinition"].endswith(":task-definition/web:1") and service["desiredCount"] == 1,
          "demo/web runs Terraform's first revision with the minimum capacity")
    (STATE / "web-before.txt").write_text(service["taskDefinition"])


def rolled():
    ecs = client("ecs")
    before = (STATE / "web-before.txt").read_text()
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    check(service["taskDefinition"] != before, f"demo/web rolled from {before.split('/')[-1]} to {service['taskDefinition'].split('/')[-1]}")
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    containers = {c["name"]: c["image"] for c in definition["containerDefinitions"]}
    digest = push_event()["detail"]["image-digest"]
    check(containers.get("app", "").endswith("@" + digest), "the new revision runs the pushed digest")
    check(containers.get("log-router", "").endswith("aws-for-fluent-bit:2.32.0"), "the log-router sidecar is untouched")
    app = next(c for c in definition["containerDefinitions"] if c["name"] == "app")
    check(app.get("healthCheck", {}).get("command") == ["CMD", "/usr/local/bin/app", "healthcheck"],
          "the revision keeps the app's container health check (`app healthcheck`)")
    check(definition["family"] == "web" and definition["taskRoleArn"].endswith("role/web-task"),
          "the revision keeps the family and the task role Terraform created")


def web_digest():
    ecs = client("ecs")
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    app = next(c for c in definition["containerDefinitions"] if c["name"] == "app")
    return app["image"].rsplit("@", 1)[-1]


def missed_push():
    sys.path.insert(0, str(ROOT / "tests" / "local"))
    from setup_demo import put_image

    (STATE / "missed-push.txt").write_text(put_image(client("ecr"), "v1.4.3", 3))


def reconciled():
    digest = (STATE / "missed-push.txt").read_text()
    check(web_digest() == digest, f"the reconciler deployed app:v1.4.3 ({digest[:19]}…), which no push event announced, to demo/web")


def rolled_back(answer_file):
    good = push_event()["detail"]["image-digest"]
    check(web_digest() == good, f"the operator rollback put demo/web back on app:v1.4.2 ({good[:19]}…), its last known good")
    answer = json.loads(pathlib.Path(answer_file).read_text())
    deployment_id = answer.get("deployment_id") or ""
    target, _, key = deployment_id.partition(".")
    bucket = outputs()["ledger_bucket"]
    try:
        record = json.loads(client("s3").get_object(Bucket=bucket, Key=f"targets/{target}/deployments/{key}.json")["Body"].read())
    except Exception:
        document = json.loads(client("s3").get_object(Bucket=bucket, Key=f"targets/{target}/target.json")["Body"].read())
        record = document.get("live", {}).get(key, {})
    caller = client("sts").get_caller_identity()["Arn"]
    by = record.get("trigger", {}).get("requested_by")
    check(by == caller, f"the rollback ({deployment_id}) records the signed caller {caller}, not a typed name (got {by!r})")


def delete_upload(event_file):
    detail = json.loads(pathlib.Path(event_file).read_text())["detail"]
    client("s3").delete_object(Bucket=detail["bucket"]["name"], Key=detail["object"]["key"],
                               VersionId=detail["object"]["version-id"])


def deleted(report_file):
    report = pathlib.Path(report_file).read_text()
    check("was deleted before it could be read" in report,
          "source-upload reports a deleted upload as deleted (S3 answers its role 404, not 403)")


def gone():
    ecs, lam, s3 = client("ecs"), client("lambda"), client("s3")
    services = ecs.describe_services(cluster="demo", services=["web"]).get("services", [])
    check(all(s["status"] != "ACTIVE" for s in services), "demo/web is gone")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    check(not any(n.startswith("slipway-local-") for n in names), "Slipway's functions are gone")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(not any(b.startswith("slipway-local-") for b in buckets), "Slipway's buckets are gone")
    iam = client("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    check(not any(r.endswith("-github-ci") for r in roles) and not providers,
          "the CI role and the GitHub OIDC provider are gone")


if __name__ == "__main__":
    {"wired": wired, "rolled": rolled, "missed-push": missed_push, "reconciled": reconciled,
     "rolled-back": rolled_back, "delete-upload": delete_upload, "deleted": deleted,
     "gone": gone}[sys.argv[1]](*sys.argv[2:])
    if failures:
        sys.exit(f"INFRA TEST FAILED: {len(failures)} check(s): " + "; ".join(failures))
