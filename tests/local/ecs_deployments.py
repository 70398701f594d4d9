"""ECS's service deployments on the local stack, where moto runs none of them.

moto stores an UpdateService's deploymentConfiguration verbatim, answers without
`currentServiceDeployment`, and answers HTTP 500 to ContinueServiceDeployment and
DescribeServiceDeployments. The IAM-check proxy (iam_check.py) hands those calls here, so
the functions talk to ECS as on AWS; the demo moves a deployment along with the commands
below. The same rules as the Rust stand-in (tests/common/ecs_deployments.rs), from the
documentation:
- UpdateService with a deployment configuration starts a service deployment
  (`service-deployment/<cluster>/<service>/<id>`; API_Service, currentServiceDeployment).
- ContinueServiceDeployment (API_ContinueServiceDeployment): serviceDeploymentArn and
  hookId are required; "the pause hook must be in AWAITING_ACTION status"; CONTINUE ->
  the hook SUCCEEDED, ROLLBACK -> FAILED and the deployment ROLLBACK_IN_PROGRESS.
- DescribeServiceDeployments (API_DescribeServiceDeployments): status, lifecycle stage,
  hooks; timestamps in epoch seconds.
- The "ECS Hook State Change" event (Developer Guide, "Amazon ECS service deployment hook
  state change events").
- A Lambda lifecycle hook's call (Developer Guide, "Lambda hooks for Amazon ECS service
  deployments"): executionId, lifecycleStage, resourceArn (the service deployment),
  executionDetails, and hookDetails — the hook's own, merged with what the previous
  IN_PROGRESS answer returned.

  python3 tests/local/ecs_deployments.py pause OUT.json     ECS reaches the newest pause
  python3 tests/local/ecs_deployments.py hook-call OUT.json LISTENER [ANSWER.json]
                                      ECS calls the newest deployment's Lambda hook
  python3 tests/local/ecs_deployments.py complete           ECS finishes it (SUCCESSFUL)
  python3 tests/local/ecs_deployments.py show               the deployments, as JSON
"""

import datetime
import fcntl
import json
import os
import pathlib
import sys
import uuid

STATE = pathlib.Path(os.environ.get("SLIPWAY_ECS_DEPLOYMENTS", ".slipway/ecs-deployments.json"))
REGION, ACCOUNT = "us-east-1", "123456789012"


class Stored:
    """The stand-in's state, in a file the proxy and the demo share (locked)."""

    def __enter__(self):
        STATE.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(STATE, "a+")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        self.file.seek(0)
        text = self.file.read()
        self.state = json.loads(text) if text else {"deployments": [], "continues": []}
        return self.state

    def __exit__(self, *exc):
        self.file.seek(0)
        self.file.truncate()
        json.dump(self.state, self.file, indent=2)
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def error(kind, message):
    return 400, {"__type": kind, "message": message}


def started(request, answer):
    """UpdateService went through: a deployment configuration starts a service deployment."""
    configuration = request.get("deploymentConfiguration")
    if not configuration:
        return answer
    cluster = request.get("cluster", "default").rsplit("/", 1)[-1]
    service = request["service"].rsplit("/", 1)[-1]
    hooks = configuration.get("lifecycleHooks", [])
    pause = next((h for h in hooks if h.get("targetType") == "PAUSE"), None)
    lambda_hook = next((h for h in hooks if h.get("targetType") == "AWS_LAMBDA"), None)
    with Stored() as state:
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/{service}/{uuid.uuid4().hex[:21]}"
        state["deployments"].append({
            "arn": arn, "cluster": cluster, "service": service, "status": "IN_PROGRESS",
            "strategy": configuration.get("strategy"),
            "pause_stage": pause["lifecycleStages"][0] if pause else None,
            "pause_minutes": (pause or {}).get("timeoutConfiguration", {}).get("timeoutInMinutes", 1440),
            "hook": None,
            "lambda_hook": lambda_hook,
        })
    answer.setdefault("service", {})["currentServiceDeployment"] = arn
    return answer


def continue_deployment(request):
    arn, hook_id = request.get("serviceDeploymentArn"), request.get("hookId")
    if not arn or not hook_id:
        return error("InvalidParameterException", "serviceDeploymentArn and hookId are required")
    action = request.get("action", "CONTINUE")
    if action not in ("CONTINUE", "ROLLBACK"):
        return error("InvalidParameterException", "action must be CONTINUE or ROLLBACK")
    with Stored() as state:
        deployment = next((d for d in state["deployments"] if d["arn"] == arn), None)
        if deployment is None:
            return error("ServiceDeploymentNotFoundException", f"{arn} does not exist")
        hook = deployment["hook"]
        if not hook or hook["id"] != hook_id or hook["status"] != "AWAITING_ACTION":
            return error("InvalidParameterException", "The pause hook must be in AWAITING_ACTION status")
        hook["status"] = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
        if action == "ROLLBACK":
            deployment["status"] = "ROLLBACK_IN_PROGRESS"
        state["continues"].append([arn, hook_id, action])
    return 200, {"serviceDeploymentArn": arn}


def describe(request):
    found, failures = [], []
    with Stored() as state:
        for arn in request.get("serviceDeploymentArns", []):
            d = next((d for d in state["deployments"] if d["arn"] == arn), None)
            if d is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            hooks = []
            if d["hook"]:
                hooks.append({"hookId": d["hook"]["id"], "targetType": "PAUSE", "status": d["hook"]["status"],
                              "expiresAt": d["hook"]["expires_at"], "timeoutAction": "ROLLBACK"})
            found.append({
                "serviceDeploymentArn": d["arn"],
                "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{d['cluster']}/{d['service']}",
                "status": d["status"], "lifecycleStage": d["pause_stage"], "lifecycleHookDetails": hooks,
                **({"finishedAt": d["finished_at"]} if d.get("finished_at") else {}),
            })
    return 200, {"serviceDeployments": found, "failures": failures}


def answer(operation, request):
    """(status, body) for the operations moto lacks; None for the others."""
    if operation == "ContinueServiceDeployment":
        return continue_deployment(request)
    if operation == "DescribeServiceDeployments":
        return describe(request)
    return None


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def pause(out):
    """ECS reaches the newest deployment's pause: writes the HOOK_AWAITING_ACTION event."""
    with Stored() as state:
        d = state["deployments"][-1]
        expires = now() + datetime.timedelta(minutes=d["pause_minutes"])
        d["hook"] = {"id": f"ecs-pause-{uuid.uuid4().hex}", "status": "AWAITING_ACTION",
                     "expires_at": expires.timestamp()}
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "ECS Hook State Change",
            "source": "aws.ecs", "account": ACCOUNT, "time": now().isoformat(), "region": REGION,
            "resources": [d["arn"]],
            "detail": {
                "eventType": "INFO", "eventName": "HOOK_AWAITING_ACTION", "hookId": d["hook"]["id"],
                "hookType": "PAUSE", "expiresAt": expires.isoformat(), "lifecycleStage": d["pause_stage"],
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{d['cluster']}",
                "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{d['cluster']}/{d['service']}",
                "serviceDeploymentArn": d["arn"], "updatedAt": now().isoformat(),
            },
        }
    pathlib.Path(out).write_text(json.dumps(event, indent=2))
    print(out)


def hook_call(out, listener, previous=None):
    """ECS calls the newest deployment's Lambda hook after test traffic moved: writes the
    call. There is no load balancer locally: the test listener's scheme, host and port are
    replaced by LISTENER (a server on 127.0.0.1 standing in for the new revision)."""
    with Stored() as state:
        d = state["deployments"][-1]
        hook = d.get("lambda_hook")
        if not hook:
            sys.exit("the newest service deployment has no Lambda hook")
        details = dict(hook.get("hookDetails") or {})
        if previous:
            details.update(json.loads(pathlib.Path(previous).read_text()).get("hookDetails") or {})
        path = "/" + details["url"].split("://", 1)[1].split("/", 1)[1]
        details["url"] = listener.rstrip("/") + path
        service = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{d['cluster']}/{d['service']}"
        call = {
            "executionId": d["arn"].rsplit("/", 1)[1], "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "resourceArn": d["arn"],
            "executionDetails": {"serviceArn": service,
                                 "targetServiceRevisionArn": f"{service.replace(':service/', ':service-revision/')}/2",
                                 "testTrafficWeights": {}, "productionTrafficWeights": {}},
            "hookDetails": details,
        }
    pathlib.Path(out).write_text(json.dumps(call, indent=2))
    print(out)


def complete():
    """ECS shifts production traffic and, after the bake time, reports SUCCESSFUL."""
    with Stored() as state:
        d = state["deployments"][-1]
        d["status"] = "SUCCESSFUL"
        d["finished_at"] = now().timestamp()
        print(f"{d['arn']}: SUCCESSFUL")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "show"
    if command == "pause":
        pause(sys.argv[2])
    elif command == "hook-call":
        hook_call(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif command == "complete":
        complete()
    else:
        with Stored() as state:
            print(json.dumps(state, indent=2))
