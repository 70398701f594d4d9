#!/usr/bin/env bash
# The local stack: moto (the local AWS), infra/environments/local applied to it by
# Terraform, `cargo lambda watch` (the functions) and the demo's images. Used by `make up`,
# `make down`, `make invoke`, `make demo` and `make infra-integration`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=$ROOT/.slipway
# What tests/local/ecs_deployments.py (in the IAM-check proxy, and the demo) keeps.
export SLIPWAY_ECS_DEPLOYMENTS=$STATE/ecs-deployments.json
VENV=$ROOT/.tools/venv
export TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-$ROOT/.tools/terraformrc}
ENV_FILE=$STATE/local.env
export PATH="$VENV/bin:$PATH"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port name
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not start on 127.0.0.1:$1; its log: $STATE/$2.log" >&2
  tail -20 "$STATE/$2.log" >&2 || true
  return 1
}

start() { # name command...
  local name=$1; shift
  setsid "$@" >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

# The hashicorp/aws provider: from the machine's filesystem mirror when it has one
# (TF_PLUGIN_DIR overrides; infra/find-provider-mirror.sh), else the public registry.
terraform_init() { # dir
  local mirror
  mirror=${TF_PLUGIN_DIR:-$("$ROOT/infra/find-provider-mirror.sh")}
  terraform -chdir="$1" init -input=false -no-color ${mirror:+-plugin-dir="$mirror"} >"$STATE/terraform-init.log" 2>&1 ||
    { cat "$STATE/terraform-init.log" >&2; return 1; }
}

local_tf() { # terraform arguments for infra/environments/local, state in .slipway
  terraform -chdir="$ROOT/infra/environments/local" "$@"
}

# Locally the emulator stores the functions but does not run them (cargo lambda watch
# does), so the zips hold the stripped debug binaries instead of a release build.
package_debug() {
  local f
  for f in image-push source-upload deployment-events reconcile approval test-probe; do
    mkdir -p "$STATE/package/$f"
    if [ "$STATE/package/$f/bootstrap.zip" -nt "$ROOT/target/debug/$f" ]; then continue; fi
    strip -o "$STATE/package/$f/bootstrap" "$ROOT/target/debug/$f"
    python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z: z.write(sys.argv[2], "bootstrap")' \
      "$STATE/package/$f/bootstrap.zip" "$STATE/package/$f/bootstrap"
    rm "$STATE/package/$f/bootstrap"
  done
}

apply_local() { # endpoint
  touch "$TF_CLI_CONFIG_FILE"
  terraform_init "$ROOT/infra/environments/local" || return 1
  echo "terraform apply infra/environments/local (against the local AWS)…"
  rm -f "$STATE/terraform.tfstate"
  if ! local_tf apply -auto-approve -input=false -no-color -state="$STATE/terraform.tfstate" \
    -var endpoint="$1" -var package_dir="$STATE/package" >"$STATE/terraform-apply.log" 2>&1; then
    tail -40 "$STATE/terraform-apply.log" >&2
    echo "terraform apply failed; the whole log: $STATE/terraform-apply.log" >&2
    return 1
  fi
  grep -E '^Apply complete' "$STATE/terraform-apply.log"
}

# The functions' environment as Terraform rendered it (image-push's: the fullest), plus
# what only the local stack knows. Each key once: dotenv loaders keep a key's first value,
# so the keys set below are left out of Terraform's part. SLIPWAY_HINT_BUS is left out
# too: moto 5.2.5 cannot deliver an event to a Lambda target (its rule raises
# NotImplementedError, PutEvents answers 500), so a promotion hint could only fail here;
# the stages look again on the reconciler's wake-ups, as when a hint is lost. The hint is
# tested against moto with a queue as the rule's target (tests/reconcile.rs).
write_env() { # moto-port lambda-port operator-port test-listener-port
  local_tf output -state="$STATE/terraform.tfstate" -json function_environment |
    python3 -c 'import json,sys,shlex; env = json.load(sys.stdin)["image-push"]; print("\n".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k not in ("SLIPWAY_APPROVAL_URL", "SLIPWAY_DRY_RUN", "SLIPWAY_HINT_BUS")))' >"$ENV_FILE"
  cat >>"$ENV_FILE" <<ENV
AWS_ENDPOINT_URL=http://127.0.0.1:$1
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
SLIPWAY_LAMBDA_PORT=$2
SLIPWAY_FUNCTIONS_URL=http://127.0.0.1:$2
SLIPWAY_APPROVAL_URL=http://127.0.0.1:$2/lambda-url/approval
SLIPWAY_DRY_RUN=${SLIPWAY_DRY_RUN:-0}
SLIPWAY_ENV=local
SLIPWAY_OPERATOR_URL=http://127.0.0.1:$3/operator
SLIPWAY_TEST_LISTENER_PORT=$4
SLIPWAY_TEST_PROBE_ORIGINS=http://127.0.0.1:$4
ENV
}

# The functions' environment: as $ENV_FILE, but with an AWS profile per function that assumes
# the function's Terraform-created role through STS (AWS_PROFILE is set per function in the
# workspace Cargo.toml's lambda metadata), as Lambda gives a function its execution role's
# credentials. The SDK resolves the profile and calls AssumeRole itself, through the IAM check.
write_function_env() {
  local_tf output -state="$STATE/terraform.tfstate" -json function_role_arns |
    python3 -c '
import json, sys
print("[profile slipway-local-caller]\naws_access_key_id = test\naws_secret_access_key = test")
for name, arn in sorted(json.load(sys.stdin).items()):
    print(f"\n[profile {name}]\nrole_arn = {arn}\nsource_profile = slipway-local-caller\nrole_session_name = {name}")
' >"$STATE/aws-config"
  : >"$STATE/aws-credentials"
  { grep -v -E '^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)=' "$ENV_FILE"
    echo "AWS_CONFIG_FILE=$STATE/aws-config"
    echo "AWS_SHARED_CREDENTIALS_FILE=$STATE/aws-credentials"
  } >"$STATE/functions.env"
}

# Starts moto on a free port and applies the local environment to it; prints the port.
start_moto_and_apply() {
  local moto_port
  rm -f "$STATE/terraform-apply.log"
  moto_port=$(free_port)
  # AWS's managed policies (web-prod's ECS infrastructure role attaches one) exist in moto
  # only when it loads them.
  start moto env MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$moto_port"
  # (called as `if ! x=$(…)`, where errexit is off: each step returns on failure itself)
  wait_port "$moto_port" moto >&2 || return 1
  apply_local "http://127.0.0.1:$moto_port" >&2 || return 1
  echo "$moto_port"
}

up() {
  if [ -f "$STATE/moto.pid" ]; then
    echo "The local stack is already up (run 'make down' to stop it):"; cat "$ENV_FILE"; return 0
  fi
  mkdir -p "$STATE"
  echo "building the functions (debug)…"
  cargo build --quiet --bins
  package_debug
  local moto_port lambda_port
  if ! moto_port=$(start_moto_and_apply); then
    # moto serves concurrent requests without locking its models, and Terraform's parallel
    # creates sometimes meet that (InvalidPermission.Duplicate on a security group rule
    # created once, InvalidSubnet.Conflict on distinct CIDRs). Such an apply is not Slipway's
    # or the Terraform's fault: once, on a fresh emulator, it is applied again.
    grep -q -E 'InvalidPermission\.Duplicate|InvalidSubnet\.Conflict' "$STATE/terraform-apply.log" || return 1
    echo "The local AWS answered with one of its known races; applying once more on a fresh one…" >&2
    stop_one moto
    moto_port=$(start_moto_and_apply) || return 1
  fi
  # Every call the functions make is checked against their roles' IAM statements
  # (tests/local/iam_check.py): they reach moto through this proxy.
  local iam_port
  iam_port=$(free_port)
  rm -f "$STATE/iam-calls.jsonl" "$STATE/ecs-deployments.json"
  # The proxy also plays ECS's service deployments, which moto lacks (ecs_deployments.py).
  start iam python3 tests/local/iam_check.py serve "$iam_port" "http://127.0.0.1:$moto_port" \
    "$STATE/iam-calls.jsonl"
  wait_port "$iam_port" iam
  lambda_port=$(free_port)
  operator_port=$(free_port)
  # No load balancer locally: the test probe GETs tests/local/test_listener.py here.
  write_env "$iam_port" "$lambda_port" "$operator_port" "$(free_port)"
  load_env
  python3 infra/signing_key.py "$SLIPWAY_SIGNING_KEY_SECRET"
  python3 tests/local/setup_demo.py
  write_function_env
  # Without the shell's static keys: each function signs with its role's (write_function_env).
  start watch env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
    --env-file "$STATE/functions.env" --ignore-changes
  wait_port "$lambda_port" watch
  # API Gateway's IAM authorization in front of the operator endpoint (SigV4 verified, the
  # caller's ARN handed to the approval function): tests/local/api_gateway.py.
  start api-gateway python3 tests/local/api_gateway.py serve "$operator_port" "$SLIPWAY_FUNCTIONS_URL" "$AWS_ENDPOINT_URL"
  wait_port "$operator_port" api-gateway
  echo
  echo "Local AWS (moto, behind the IAM check): $AWS_ENDPOINT_URL   (created by Terraform: infra/environments/local, state $STATE/terraform.tfstate)"
  echo "Functions (cargo lambda watch): $SLIPWAY_FUNCTIONS_URL   (function URLs under /lambda-url/<function>/)"
  echo "Environment for your shell, the tests and 'make invoke': $ENV_FILE"
  echo "  set -a; . $ENV_FILE; set +a"
}

# Destroys what Terraform created (the emulator keeps nothing after 'down' anyway; this
# proves the configuration tears down cleanly). The functions' permissions go first, one
# at a time: the emulator loses one of two concurrent RemovePermission calls on the same
# function (seen with deployment-events' EventBridge permissions), and the provider then
# waits forever. The rest goes with Terraform's usual parallelism (one at a time, the
# 169 resources took over three minutes).
destroy() {
  load_env
  export TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-$ROOT/.tools/terraformrc}
  local pass
  for pass in permissions rest; do
    local scope=()
    [ "$pass" = permissions ] && scope=(-parallelism=1
      -target=module.slipway.aws_lambda_permission.events
      -target=module.slipway.aws_lambda_permission.approval_api)
    local attempt
    for attempt in 1 2; do
      if local_tf destroy -auto-approve -input=false -no-color "${scope[@]}" -state="$STATE/terraform.tfstate" \
        -var endpoint="$AWS_ENDPOINT_URL" -var package_dir="$STATE/package" >"$STATE/terraform-destroy-$pass.log" 2>&1; then
        break
      fi
      # moto 5.2.5, revoking security group rules in parallel, has answered a revoke
      # InvalidPermission.NotFound for a rule it listed a moment before (seen once in
      # make test, on the ALB's port-80 rule); the provider stops there. The next destroy
      # refreshes the state and takes what is left. Any other failure fails at once.
      if [ "$attempt" = 1 ] && grep -q 'InvalidPermission.NotFound' "$STATE/terraform-destroy-$pass.log"; then
        echo "terraform destroy: moto lost a security group rule mid-revoke; destroying again" >&2
        cp "$STATE/terraform-destroy-$pass.log" "$STATE/terraform-destroy-$pass-1.log"
        continue
      fi
      tail -40 "$STATE/terraform-destroy-$pass.log" >&2
      return 1
    done
  done
  grep -h -E '^Destroy complete' "$STATE/terraform-destroy-permissions.log" "$STATE/terraform-destroy-rest.log"
}

stop_one() { # name
  local pid
  if [ -f "$STATE/$1.pid" ]; then
    pid=$(cat "$STATE/$1.pid")
    kill -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$pid" 2>/dev/null || true
    rm -f "$STATE/$1.pid"
  fi
}

down() {
  local name
  for name in test-listener api-gateway watch iam moto; do stop_one "$name"; done
  echo "The local stack is down."
}

load_env() {
  [ -f "$ENV_FILE" ] || { echo "No $ENV_FILE: run 'make up' first." >&2; exit 2; }
  set -a; . "$ENV_FILE"; set +a
}

invoke() { # function event-file
  [ -n "${1:-}" ] && [ -f "${2:-}" ] || { echo "usage: make invoke FUNCTION=<name> EVENT=<file>" >&2; exit 2; }
  load_env
  timeout "${SLIPWAY_INVOKE_TIMEOUT:-300}" cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$SLIPWAY_LAMBDA_PORT" --data-file "$2"
}

# ECS's calls of the newest service deployment's Lambda hook (the test probe), made by
# tests/local/ecs_deployments.py as ECS makes them: again after each IN_PROGRESS answer's
# callBackDelay, with its hookDetails, until SUCCEEDED or FAILED.
probe_test_listener() {
  local port=$SLIPWAY_TEST_LISTENER_PORT call answer="" status delay n
  start test-listener python3 tests/local/test_listener.py "$port"
  wait_port "$port" test-listener
  for n in $(seq 1 20); do
    call=$(python3 tests/local/ecs_deployments.py hook-call "$STATE/events/hook-call-$n.json" \
      "http://127.0.0.1:$port" ${answer:+"$answer"})
    invoke test-probe "$call" >"$STATE/hook-answer-$n.json"
    answer=$STATE/hook-answer-$n.json
    read -r status delay < <(python3 -c 'import json, sys; a = json.load(open(sys.argv[1])); print(a["hookStatus"], a.get("callBackDelay", 30))' "$answer")
    echo "   cargo lambda invoke test-probe --data-file ${call#"$ROOT"/}   → $status$([ "$status" = IN_PROGRESS ] && echo ", again in $delay s")"
    case $status in
      SUCCEEDED) break ;;
      IN_PROGRESS) sleep "$delay" ;;
      *) stop_one test-listener; echo "The test probe answered $status: ECS would roll back." >&2; return 1 ;;
    esac
  done
  stop_one test-listener
  [ "$status" = SUCCEEDED ] || { echo "The test probe never finished." >&2; return 1; }
}

current_task_definition() {
  python3 -c 'import boto3,os; print(boto3.client("ecs", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).describe_services(cluster="demo", services=["web"])["services"][0]["taskDefinition"])'
}

upload() { # key file: upload a manifest, then replay the event S3 would send
  [ -n "${1:-}" ] && [ -f "${2:-}" ] || { echo "usage: make upload KEY=deploy/<target>/<manifest> FILE=<path>" >&2; exit 2; }
  load_env
  local event
  event=$(python3 tests/local/upload.py "$1" "$2")
  echo "uploaded $2 to s3://$SLIPWAY_SOURCE_BUCKET/$1; replaying $event through source-upload"
  invoke source-upload "$event"
}

demo() {
  trap down EXIT
  down >/dev/null
  rm -rf "$STATE"
  up
  load_env

  current_task_definition >"$STATE/before-push.txt"
  echo
  echo "1. CI pushed app:v1.4.2. Replaying its ECR event through image-push:"
  echo "   cargo lambda invoke image-push --data-file .slipway/events/demo-push.json"
  invoke image-push "$STATE/events/demo-push.json" | tee "$STATE/report-push.json"
  python3 tests/local/story.py push "$STATE/events/demo-push.json" "$STATE/report-push.json" "$STATE/before-push.txt"

  echo
  echo "2. prod-web takes only what succeeded on web and ran there for the soak (20 s here): its"
  echo "   release of the push waits. ECS reports web's rollout COMPLETED; the reconciler looks"
  echo "   again (the upstream's ledger record is the evidence), waits out the soak, and then"
  echo "   the same digest goes on to prod-web:"
  python3 tests/local/promotion.py waiting
  event=$(python3 tests/local/outcome.py event web web now)
  echo "   cargo lambda invoke deployment-events --data-file ${event#"$ROOT"/}"
  invoke deployment-events "$event" >"$STATE/report-web-completed.json"
  echo "   cargo lambda invoke reconcile --data-file events/scheduled-reconcile.json"
  invoke reconcile events/scheduled-reconcile.json >"$STATE/report-reconcile-soaking.json"
  python3 tests/local/promotion.py waiting
  python3 tests/local/promotion.py wake-up
  sleep "$(python3 tests/local/promotion.py seconds)"
  echo "   cargo lambda invoke reconcile --data-file .slipway/events/wake-up.json   (the soak is over: Scheduler's wake-up, played)"
  invoke reconcile "$STATE/events/wake-up.json" >"$STATE/report-reconcile-promoted.json"
  python3 tests/local/promotion.py promoted

  current_task_definition >"$STATE/before-upload.txt"
  echo
  echo "3. An operator uploads deploy/web/taskdef.json (more memory, a new variable, image <IMAGE>):"
  local event
  event=$(python3 tests/local/upload.py deploy/web/taskdef.json tests/local/manifests/taskdef.json)
  echo "   cargo lambda invoke source-upload --data-file ${event#"$ROOT"/}"
  invoke source-upload "$event" | tee "$STATE/report-upload.json"
  python3 tests/local/story.py upload "$event" "$STATE/report-upload.json" "$STATE/before-upload.txt"

  echo
  echo "4. prod-web is a canary (10% for 5 min) whose approval is ECS's own pause: the promotion"
  echo "   rolled it with a PAUSE hook after test traffic. ECS reaches the pause — the new"
  echo "   revision serves the test listener, production still runs v1.4.1 — and says so (the"
  echo "   emulator runs no service deployments: tests/local/ecs_deployments.py plays ECS):"
  echo "   After test traffic moved, ECS also calls Slipway's test probe, its Lambda hook: the new"
  echo "   revision must answer 200 on /health for 10 s (no load balancer here:"
  echo "   tests/local/test_listener.py answers for it on 127.0.0.1):"
  probe_test_listener
  event=$(python3 tests/local/ecs_deployments.py pause "$STATE/events/hook-awaiting-action.json")
  echo "   cargo lambda invoke deployment-events --data-file ${event#"$ROOT"/}"
  invoke deployment-events "$event" >"$STATE/report-pause.json"
  python3 tests/local/approve.py

  echo
  echo "5. ECS shifts production traffic and, after the bake time, reports the service deployment"
  echo "   SUCCESSFUL. ECS documents its deployment events for rolling deployments only, so the"
  echo "   reconciler reads it (DescribeServiceDeployments) and closes the rollout:"
  python3 tests/local/ecs_deployments.py complete | sed 's/^/   ECS: /'
  echo "   cargo lambda invoke reconcile --data-file events/scheduled-reconcile.json"
  invoke reconcile events/scheduled-reconcile.json >"$STATE/report-reconcile-canary.json"
  echo
  python3 tests/local/outcome.py show

  echo
  echo "6. An operator uploads deploy/prod-web/taskdef.json (memory 2048, image <IMAGE>): a new"
  echo "   canary of exactly the uploaded revision; ECS pauses it again, and the approval continues it:"
  python3 tests/local/prod_taskdef.py >"$STATE/taskdef-prod.json"
  event=$(python3 tests/local/upload.py deploy/prod-web/taskdef.json "$STATE/taskdef-prod.json")
  invoke source-upload "$event" >"$STATE/report-upload-prod.json"
  event=$(python3 tests/local/ecs_deployments.py pause "$STATE/events/hook-awaiting-action-upload.json")
  invoke deployment-events "$event" >"$STATE/report-pause-upload.json"
  python3 tests/local/approve.py upload

  echo
  echo "7. The reconciler's scheduled run (every 5 minutes on AWS): it closes rollouts whose end"
  echo "   DescribeServices reports but no ECS event told (the emulator still reports web's upload"
  echo "   rollout IN_PROGRESS: nothing to close) and looks in ECR for a release no push announced:"
  echo "   cargo lambda invoke reconcile --data-file events/scheduled-reconcile.json"
  invoke reconcile events/scheduled-reconcile.json | tee "$STATE/report-reconcile.json"
  echo

  echo
  echo "8. The operator's command line, with the operator's own credentials and the settings"
  echo "   Terraform wrote to SSM (/slipway/local/settings). A change is a request to the operator"
  echo "   endpoint signed with SigV4; the ledger records the signer's ARN:"
  build_cli
  echo "   slipway freeze web --reason 'demo: release freeze' --until 1h"
  slipway freeze web --reason "demo: release freeze" --until 1h
  slipway status web | grep -E '^ *frozen' || true
  echo "   slipway unfreeze web --reason 'demo: freeze over'"
  slipway unfreeze web --reason "demo: freeze over"
  echo
  echo "   slipway status"
  slipway status
  echo
  echo "   slipway history prod-web"
  slipway history prod-web

  echo
  echo "What the functions logged (JSON, one line per decision):"
  grep -h '"decision"' "$STATE/watch.log" | sed 's/^[^{]*//' | head -20 || true
  echo
  iam_report
}

# The operator's command line (the cli feature), built once.
build_cli() {
  cargo build --quiet --bin slipway --features cli
}

slipway() {
  "$ROOT/target/debug/slipway" "$@"
}

# Every AWS call the functions made, checked against their roles (fails on a denial).
iam_report() {
  local_tf output -state="$STATE/terraform.tfstate" -json function_role_arns >"$STATE/function_roles.json"
  python3 tests/local/iam_check.py report "$STATE/iam-calls.jsonl" "$STATE/function_roles.json"
}

# The integration test of the Terraform: apply infra/environments/local to a fresh local
# AWS, check the wiring, replay an ECR push through what it created, check the service
# rolled, destroy, check it is gone.
infra_test() {
  trap down EXIT
  down >/dev/null
  rm -rf "$STATE"
  up
  load_env
  echo
  echo "What Terraform created:"
  python3 tests/local/terraform_local.py wired
  echo "Replaying CI's push through image-push:"
  invoke image-push "$STATE/events/demo-push.json" >"$STATE/report-push.json"
  python3 tests/local/terraform_local.py rolled
  echo "ECS completes it (deployment-events), a push whose event was lost (the reconciler),"
  echo "an operator rollback to the last known good release (slipway rollback: the operator"
  echo "endpoint, signed, served by the approval function under its role):"
  build_cli
  invoke deployment-events "$(python3 tests/local/outcome.py event web web)" >"$STATE/report-completed.json"
  python3 tests/local/terraform_local.py missed-push
  invoke reconcile events/scheduled-reconcile.json >"$STATE/report-reconcile.json"
  python3 tests/local/terraform_local.py reconciled
  slipway rollback web --reason "v1.4.3 returns 500s (infra test)" --json >"$STATE/report-rollback.json"
  python3 tests/local/terraform_local.py rolled-back "$STATE/report-rollback.json"
  echo "An upload deleted before source-upload reads it:"
  local event
  event=$(python3 tests/local/upload.py deploy/web/taskdef.json tests/local/manifests/taskdef.json)
  python3 tests/local/terraform_local.py delete-upload "$event"
  invoke source-upload "$event" >"$STATE/report-deleted-upload.json" || true
  python3 tests/local/terraform_local.py deleted "$STATE/report-deleted-upload.json"
  iam_report
  echo "terraform destroy:"
  destroy
  python3 tests/local/terraform_local.py gone
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  invoke) invoke "${2:-}" "${3:-}" ;;
  upload) upload "${2:-}" "${3:-}" ;;
  destroy) destroy ;;
  infra-test) infra_test ;;
  demo) demo ;;
  *) echo "usage: $0 up|down|destroy|infra-test|invoke FUNCTION EVENT|upload KEY FILE|demo" >&2; exit 2 ;;
esac
