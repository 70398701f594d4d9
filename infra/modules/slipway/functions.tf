# One Lambda per function, each with its own role holding only what that function calls.

locals {
  functions = {
    "image-push" = {
      description = "Registers a digest-pinned revision and rolls the service when CI pushes an image"
      timeout     = 60
      async       = true
      # Failed invocations end in the function's dead-letter queue.
      dead_letters = true
      # group_runs: a push every target of a release group takes starts the group's run.
      # wake_ups: a release that waits for its window or a soak, a group's task (its deadline).
      grants = concat(["ledger", "ecs_read", "ecs_roll", "ecs_register", "pass_role", "ecr_read", "promotion_reads", "notify", "secrets", "kms", "wake_ups"], local.group_grants)
    }
    "source-upload" = {
      description  = "Deploys the manifest someone uploaded to the source bucket"
      timeout      = 60
      async        = true
      dead_letters = true
      # group_runs: a group's release.json starts the group's run (src/deployer/group_release_upload.rs).
      grants = concat(["ledger", "ecs_read", "ecs_roll", "ecs_register", "pass_role", "ecr_read", "source_read", "promotion_reads", "notify", "secrets", "kms", "wake_ups"], local.group_grants)
    }
    "deployment-events" = {
      description  = "Records how each rollout ended (ECS events) and runs operator requests"
      timeout      = 60
      async        = true
      dead_letters = true
      # ecr_read: an operator rollback first checks that the release's image still exists
      # (ECR lifecycle rules may have expired it; src/deployer/operator.rs).
      # With release groups it drives their runs: a task's STOPPED event or a step's rollout
      # ending starts the next step (a revision to register, a task to run).
      # wake_ups: an upstream's success lets a stage's release soak; a group's next task.
      # With promotion it publishes the hints (an upstream's success) and takes them: a
      # stage looking again judges the soak's alarms and may register and roll its release.
      grants = distinct(concat(["ledger", "ecs_read", "ecs_roll", "ecs_progress", "ecr_read", "notify", "secrets", "kms", "wake_ups"],
        length(var.groups) == 0 ? [] : concat(["ecs_register", "pass_role"], local.group_grants),
      local.promotes ? ["promotion_reads", "ecs_register", "pass_role", "hints"] : []))
    }
    "reconcile" = {
      description = "On a schedule: closes rollouts whose ECS event was lost, deploys pushes no event told of"
      timeout     = 120
      async       = true
      # A run that fails is run again by the next schedule; the queue keeps its error.
      dead_letters = true
      # It runs the push and deployment-events pipelines: their grants, and ECR listing;
      # reads progressive rollouts' service deployments; and rolls a release that waited
      # for its window, which for an uploaded task definition re-reads the upload; and
      # looks again at releases waiting for upstream (promotion_reads: their soak).
      # group_runs: a group step's rollout it closes moves the step's run on, and a group's
      # push no event told of starts the group's run (ecr_read lists its repository).
      grants = concat(["ledger", "ecs_read", "ecs_roll", "ecs_progress_read", "ecs_register", "pass_role", "ecr_read", "source_read", "promotion_reads", "notify", "secrets", "kms", "wake_ups", "hints"], local.group_grants)
    }
    "approval" = {
      description = "The approval pages and Slack interactions (behind the approval HTTP API)"
      # Below the HTTP API's integration timeout (30 s, not adjustable: API Gateway
      # Developer Guide, "Quotas for configuring and running an HTTP API"), and above one
      # AWS call's 20 s limit (src/aws/mod.rs, CallTimeouts), so that a slow call ends as
      # an error page rather than API Gateway's 503.
      timeout = 28
      async   = false
      # A Slack approval's roll is a job the function invokes itself with, asynchronously
      # (src/web/later.rs): a job that fails every retry is dead-lettered too.
      dead_letters = true
      # source_read: approving an uploaded manifest re-reads the upload by version id.
      # ecr_read: the operator endpoint's rollback checks that ECR still has the image it
      # returns to (src/deployer/operator.rs, check_still_in_ecr).
      # group grants: approving a release group's run (its page's POST, src/web/group_link.rs)
      # starts the run here — registrations, the migration's RunTask, the first
      # UpdateService — and `slipway plan` of a group's release reads the group's line.
      # wake_ups: an approved release may wait for its window.
      # promotion_reads: `slipway bypass-soak` judges the rest of the promotion gate here
      # (the soak's alarms so far) before the release asks for its approval.
      grants = concat(["ledger", "ecs_read", "ecs_roll", "ecs_progress", "ecs_register", "pass_role", "ecr_read", "source_read", "promotion_reads", "notify", "secrets", "kms", "roll_later", "wake_ups", "hints"],
      local.group_grants)
    }
    "test-probe" = {
      description = "ECS's Lambda lifecycle hook: probes a progressive rollout's test listener before production traffic moves"
      # Each call is one GET with a 5 s budget (functions/test-probe); ECS calls again
      # while it answers IN_PROGRESS.
      timeout = 15
      # ECS invokes it synchronously and reads its answer (test_probe.tf).
      async        = false
      dead_letters = false
      # It calls no AWS API; in the VPC, Lambda manages its network interfaces with the
      # execution role's grants.
      grants = var.test_probe_network == null ? [] : ["vpc_access"]
    }
  }
  # The functions that drive release groups' runs get these, only when groups exist.
  group_grants            = length(var.groups) == 0 ? [] : ["group_runs", "group_tasks"]
  async_functions         = { for name, f in local.functions : name => f if f.async }
  dead_lettered_functions = { for name, f in local.functions : name => f if f.dead_letters }

  secret_arns = concat(
    [aws_secretsmanager_secret.signing_keys.arn],
    aws_secretsmanager_secret.slack[*].arn,
  )

  # Each grant is one IAM statement; a function's policy is the list of its grants.
  grant_statements = {
    ledger = [
      # The ledger's records live under targets/; the config object beside them is
      # Terraform's, read-only to the functions.
      { sid = "Ledger", actions = ["s3:GetObject", "s3:PutObject"], resources = ["${aws_s3_bucket.this["ledger"].arn}/targets/*"], condition = null },
      { sid = "ReadConfig", actions = ["s3:GetObject", "s3:GetObjectVersion"], resources = ["${aws_s3_bucket.this["ledger"].arn}/${local.config_key}"], condition = null },
      # Without ListBucket a missing ledger object reads as 403 instead of 404.
      { sid = "LedgerList", actions = ["s3:ListBucket"], resources = [aws_s3_bucket.this["ledger"].arn], condition = null },
    ]
    # Release groups' runs (src/model/group/) and each group's line, beside the targets.
    group_runs = [
      { sid = "GroupLedger", actions = ["s3:GetObject", "s3:PutObject"], resources = ["${aws_s3_bucket.this["ledger"].arn}/groups/*"], condition = null },
    ]
    # A group's one-off tasks: RunTask of the task steps' targets' revisions, in their
    # clusters only; StopTask at a deadline and DescribeTasks when an event was lost, on
    # those clusters' tasks. RunTask passes the revision's task and execution roles to
    # ECS (Amazon ECS Developer Guide, "Amazon ECS EventBridge IAM Role": iam:PassRole for
    # each), which pass_role grants.
    group_tasks = [
      { sid = "RunGroupTasks", actions = ["ecs:RunTask"], resources = local.group_task_definition_arns, condition = { test = "ArnEquals", variable = "ecs:cluster", values = local.group_cluster_arns } },
      { sid = "FollowGroupTasks", actions = ["ecs:StopTask", "ecs:DescribeTasks"], resources = local.group_task_arns, condition = null },
    ]
    # A promotion's soak is judged from the alarms' history (src/aws/alarms.rs): only the
    # alarms the targets name, so metric alarms only (a composite alarm's history needs
    # the grant on *, CloudWatch API Reference, DescribeAlarmHistory).
    promotion_reads = concat(length(local.promotion_alarm_arns) == 0 ? [] : [
      { sid = "ReadPromotionAlarms", actions = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"], resources = local.promotion_alarm_arns, condition = null },
      ], [for statement in [
        # Another Slipway's records of the targets this one promotes from, and nothing else
        # of its ledger; its bucket policy grants the same (promoted_elsewhere, there).
        { sid = "ReadUpstreamLedgers", actions = ["s3:GetObject"], resources = distinct([for u in var.upstreams : "arn:${local.partition}:s3:::${u.ledger_bucket}/targets/${u.target}/*"]), condition = null },
        # Without ListBucket S3 answers a record not written yet with 403, not 404 (S3 API
        # Reference, GetObject, "Permissions"): the gate must tell "not yet" from "refused".
        { sid = "ListUpstreamLedgers", actions = ["s3:ListBucket"], resources = distinct([for u in var.upstreams : "arn:${local.partition}:s3:::${u.ledger_bucket}"]), condition = null },
        # The records are encrypted with that Slipway's key, whose ARN is random: any key of
        # that account, used through S3 only (kms:ViaService; AWS KMS Developer Guide,
        # "Allowing users in other accounts to use a KMS key"). Only that Slipway's key
        # policy grants these roles anything (promoted_elsewhere, there).
        { sid = "DecryptUpstreamLedgers", actions = ["kms:Decrypt"], resources = distinct([for u in var.upstreams : "arn:${local.partition}:kms:${local.region}:${u.account_id}:key/*"]), condition = { test = "StringEquals", variable = "kms:ViaService", values = ["s3.${local.region}.amazonaws.com"] } },
    ] : statement if length(var.upstreams) > 0])
    source_read = [
      { sid = "SourceManifests", actions = ["s3:GetObject", "s3:GetObjectVersion"], resources = ["${aws_s3_bucket.this["source"].arn}/${var.source_prefix}*"], condition = null },
      # Without ListBucket S3 answers a missing key or version with 403 instead of 404
      # (S3 API Reference, GetObject, "Permissions"): a deleted upload would read as a
      # permission error. Slipway never lists; this grant exists only for that decision,
      # which is no listing request and has no s3:prefix, so an s3:prefix condition would
      # not be known to hold there (AWS does not document the decision's condition keys).
      # The bucket is Slipway's own; only key names under it become listable.
      { sid = "SourceManifestsList", actions = ["s3:ListBucket"], resources = [aws_s3_bucket.this["source"].arn], condition = null },
    ]
    ecs_read = [
      { sid = "DescribeManagedServices", actions = ["ecs:DescribeServices"], resources = local.service_arns, condition = null },
      # DescribeTaskDefinition has no resource-level permissions in ECS.
      { sid = "DescribeTaskDefinitions", actions = ["ecs:DescribeTaskDefinition"], resources = ["*"], condition = null },
    ]
    ecs_roll = concat([
      # Only onto a revision of the targets' families: UpdateService's `ecs:task-definition`
      # condition key is the ARN the request names (Slipway always names one).
      { sid = "RollManagedServices", actions = ["ecs:UpdateService"], resources = local.service_arns, condition = { test = "ArnLike", variable = "ecs:task-definition", values = local.task_definition_arns } },
      ], length(local.load_balancer_role_arns) == 0 ? [] : [
      # A progressive target's UpdateService names ECS's infrastructure role for its load
      # balancer (advancedConfiguration.roleArn), which only ECS may be given.
      { sid = "PassLoadBalancerRolesToEcs", actions = ["iam:PassRole"], resources = local.load_balancer_role_arns, condition = { test = "StringEquals", variable = "iam:PassedToService", values = ["ecs.amazonaws.com"] } },
      ], local.test_probe_used ? [
      # ...and, with a test probe, the role ECS invokes the probe function with
      # (lifecycleHooks[].roleArn; test_probe.tf).
      { sid = "PassHookRoleToEcs", actions = ["iam:PassRole"], resources = [aws_iam_role.ecs_hooks.arn], condition = { test = "StringEquals", variable = "iam:PassedToService", values = ["ecs.amazonaws.com"] } },
    ] : [])
    # Answering ECS's pause of a progressive rollout (approve: CONTINUE, reject: ROLLBACK,
    # a later step: CONTINUE) and reading its service deployment: both actions need the
    # service and the service-deployment resource (Service Authorization Reference).
    ecs_progress = [
      { sid = "AnswerPausedRollouts", actions = ["ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments"], resources = concat(local.service_arns, local.service_deployment_arns), condition = null },
    ]
    # The reconciler reads how a progressive rollout ended (it never answers a pause).
    ecs_progress_read = [
      { sid = "ReadServiceDeployments", actions = ["ecs:DescribeServiceDeployments"], resources = concat(local.service_arns, local.service_deployment_arns), condition = null },
    ]
    ecs_register = [
      # Only in the targets' families (src/model/rollable.rs refuses a service that runs another
      # one before anything is registered).
      { sid = "RegisterRevisions", actions = ["ecs:RegisterTaskDefinition"], resources = local.task_definition_arns, condition = null },
      # A revision keeps its base's tags and names its deployment (slipway:deployment);
      # tagging is allowed only as part of registering.
      { sid = "TagNewRevisions", actions = ["ecs:TagResource"], resources = local.task_definition_arns, condition = { test = "StringEquals", variable = "ecs:CreateAction", values = ["RegisterTaskDefinition"] } },
      # A retry finds the revision an interrupted attempt registered among the family's
      # latest (no resource-level permissions in ECS).
      { sid = "FindOwnRevisions", actions = ["ecs:ListTaskDefinitions"], resources = ["*"], condition = null },
    ]
    pass_role = length(local.pass_role_arns) == 0 ? [] : [
      { sid = "PassServiceRolesToEcsTasks", actions = ["iam:PassRole"], resources = local.pass_role_arns, condition = { test = "StringEquals", variable = "iam:PassedToService", values = ["ecs-tasks.amazonaws.com"] } },
    ]
    ecr_read = [
      { sid = "ReadConfiguredRepositories", actions = ["ecr:DescribeImages"], resources = local.repository_arns, condition = null },
    ]
    notify = [
      { sid = "PublishApprovalsAndOutcomes", actions = ["sns:Publish"], resources = [aws_sns_topic.approvals.arn], condition = null },
    ]
    # The approval function's own ARN, built from its name: the function resource depends on
    # this policy, so its `arn` attribute would be a cycle.
    roll_later = [
      { sid = "HandOverRollsToItself", actions = ["lambda:InvokeFunction"], resources = ["arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-approval"], condition = null },
    ]
    secrets = [
      { sid = "ReadSlipwaySecrets", actions = ["secretsmanager:GetSecretValue"], resources = local.secret_arns, condition = null },
    ]
    # What Lambda needs to attach a function to a VPC (Lambda Developer Guide, "Giving
    # Lambda functions access to resources in an Amazon VPC": the actions of
    # AWSLambdaVPCAccessExecutionRole, which support no resource-level permissions).
    vpc_access = [
      { sid = "ManageVpcInterfaces", actions = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], resources = ["*"], condition = null },
    ]
    # One-time wake-ups of the reconciler (wake_ups.tf): CreateSchedule in Slipway's
    # schedule group only, passing only its execution role, only to Scheduler
    # (AmazonEventBridgeSchedulerFullAccess grants iam:PassRole with
    # iam:PassedToService scheduler.amazonaws.com the same way).
    wake_ups = [
      { sid = "ScheduleWakeUps", actions = ["scheduler:CreateSchedule"], resources = ["arn:${local.partition}:scheduler:${local.region}:${local.account}:schedule/${aws_scheduler_schedule_group.wake_ups.name}/*"], condition = null },
      { sid = "PassWakeUpRoleToScheduler", actions = ["iam:PassRole"], resources = [aws_iam_role.wake_ups.arn], condition = { test = "StringEquals", variable = "iam:PassedToService", values = ["scheduler.amazonaws.com"] } },
    ]
    # Promotion hints on Slipway's own bus (promotion_hints.tf), when a target promotes.
    hints = local.promotes ? [
      { sid = "PublishPromotionHints", actions = ["events:PutEvents"], resources = [aws_cloudwatch_event_bus.promotion[0].arn], condition = null },
    ] : []
    kms = [
      { sid = "UseSlipwayKey", actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [aws_kms_key.this.arn], condition = null },
    ]
  }

  function_statements = {
    for name, f in local.functions : name => concat(
      [
        { sid = "WriteOwnLogs", actions = ["logs:CreateLogStream", "logs:PutLogEvents"], resources = ["${aws_cloudwatch_log_group.function[name].arn}:*"], condition = null },
        { sid = "Tracing", actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources = ["*"], condition = null },
      ],
      f.dead_letters ? [
        { sid = "DeadLetters", actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.dead_letters[name].arn], condition = null },
      ] : [],
      flatten([for grant in f.grants : local.grant_statements[grant]]),
    )
  }

  # The environment every function starts with (src/aws/mod.rs reads it).
  base_environment = merge(
    {
      SLIPWAY_ACCOUNT_ID          = local.account
      SLIPWAY_LEDGER_BUCKET       = aws_s3_bucket.this["ledger"].bucket
      SLIPWAY_SOURCE_BUCKET       = aws_s3_bucket.this["source"].bucket
      SLIPWAY_CONFIG_S3           = "s3://${aws_s3_bucket.this["ledger"].bucket}/${local.config_key}"
      SLIPWAY_CONFIG_VERSION      = aws_s3_object.config.version_id
      SLIPWAY_SIGNING_KEY_SECRET  = aws_secretsmanager_secret.signing_keys.name
      SLIPWAY_APPROVALS_TOPIC_ARN = aws_sns_topic.approvals.arn
      SLIPWAY_DRY_RUN             = var.dry_run ? "1" : "0"
      RUST_LOG                    = "info"
    },
    local.wake_up_environment,
    local.hint_environment,
    var.slack_enabled ? { SLIPWAY_SLACK_SECRET = aws_secretsmanager_secret.slack[0].name } : {},
    var.slack_api_url == null ? {} : { SLIPWAY_SLACK_API_URL = var.slack_api_url },
  )
  # The approval function serves the links, so it needs no URL of its own (which would be a
  # cycle: the URL exists only once the function does); the others put it in messages.
  event_driven_environment = merge(
    local.base_environment,
    { SLIPWAY_APPROVAL_URL = local.approval_url },
  )
  # The approval function hands Slack approvals' rolls to itself (src/aws/self_invoke.rs).
  approval_environment = merge(local.base_environment, { SLIPWAY_ROLL_ASYNC = "1" })
  function_environment = merge(
    { for name, f in local.functions : name => f.async ? local.event_driven_environment : local.approval_environment },
    { "test-probe" = local.test_probe_environment },
  )
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${var.name}-${each.key}"
  description        = "${var.name} ${each.key}: only what this function calls"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  dynamic "statement" {
    for_each = local.function_statements[each.key]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.condition == null ? [] : [statement.value.condition]
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "slipway-${each.key}"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

# The approval function is a resource of its own: the event-driven functions need its URL
# in their environment, and the URL needs the function.
resource "aws_lambda_function" "approval" {
  # checkov:skip=CKV_AWS_117: Slipway calls only AWS's public endpoints and Slack; a VPC would add NAT cost and no protection
  # checkov:skip=CKV_AWS_272: the zips come from `make package` in CI; code signing needs a Signer profile the operator may add
  # checkov:skip=CKV_AWS_115: reserved concurrency is opt-in (var.reserved_concurrency): accounts with a quota of 10 cannot reserve any
  # checkov:skip=CKV_AWS_116: its asynchronous invocations (roll jobs) fail to the on-failure destination below, which supersedes a DLQ

  function_name    = "${var.name}-approval"
  description      = local.functions["approval"].description
  role             = aws_iam_role.function["approval"].arn
  filename         = "${var.package_dir}/approval/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.package_dir}/approval/bootstrap.zip")
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  memory_size      = var.memory_mb
  timeout          = local.functions["approval"].timeout
  kms_key_arn      = aws_kms_key.this.arn

  environment {
    variables = local.approval_environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function["approval"].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

resource "aws_lambda_function" "event_driven" {
  for_each = local.async_functions
  # checkov:skip=CKV_AWS_117: Slipway calls only AWS's public endpoints and Slack; a VPC would add NAT cost and no protection
  # checkov:skip=CKV_AWS_272: the zips come from `make package` in CI; code signing needs a Signer profile the operator may add
  # checkov:skip=CKV_AWS_115: reserved concurrency is opt-in (var.reserved_concurrency): accounts with a quota of 10 cannot reserve any
  # checkov:skip=CKV_AWS_116: failed invocations go to the on-failure destination below (with the error and the event), which supersedes a DLQ

  function_name                  = "${var.name}-${each.key}"
  description                    = each.value.description
  role                           = aws_iam_role.function[each.key].arn
  filename                       = "${var.package_dir}/${each.key}/bootstrap.zip"
  source_code_hash               = filebase64sha256("${var.package_dir}/${each.key}/bootstrap.zip")
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_mb
  timeout                        = each.value.timeout
  kms_key_arn                    = aws_kms_key.this.arn
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.event_driven_environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  lifecycle {
    precondition {
      # Lambda's limit for all environment variables together is 4 KB (Lambda Developer
      # Guide, "Working with Lambda environment variables"); the config is an S3 object,
      # so the environment stays small whatever the number of targets.
      condition     = length(jsonencode(local.event_driven_environment)) < 4096
      error_message = "The functions' environment is over Lambda's 4 KB: a variable grew that belongs in the config object."
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

locals {
  all_functions = merge(aws_lambda_function.event_driven, { approval = aws_lambda_function.approval, "test-probe" = aws_lambda_function.test_probe })
}

# Retries and the dead-letter path for failed invocations (EventBridge invokes
# asynchronously, and so does the approval function its roll jobs): a bounded number of
# retries within a bounded age, then the queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  for_each = local.dead_lettered_functions

  function_name                = local.all_functions[each.key].function_name
  maximum_retry_attempts       = var.max_retry_attempts
  maximum_event_age_in_seconds = var.max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letters[each.key].arn
    }
  }
}
