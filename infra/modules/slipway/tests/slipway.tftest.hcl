# Module logic with a mock AWS provider (no account needed): the rendered config, IAM
# scoping per function, the event patterns, and input validation.
# Run by `make infra-test`, which passes package_dir (empty zips: only their hashes are read).

mock_provider "aws" {
  source = "../../tests/aws-mock"
}

variables {
  name        = "slipway-test"
  environment = "test"
  tags        = { Project = "slipway", Environment = "test" }
  targets = [
    {
      name               = "web"
      cluster            = "shop"
      service            = "web"
      containers         = ["app"]
      repository         = "app"
      tags               = { semver = ">=1.0, <2" }
      policy             = "auto"
      task_role_arn      = "arn:aws:iam::111122223333:role/web-task"
      execution_role_arn = "arn:aws:iam::111122223333:role/web-execution"
    },
    {
      name                 = "prod-web"
      cluster              = "shop"
      service              = "web-prod"
      containers           = ["app", "worker"]
      repository           = "app"
      tags                 = { glob = "release-*" }
      policy               = "approval"
      approval             = { expires_after_hours = 24, slack_channel = "C0123" }
      notifications        = { slack_channel = "C0456" }
      freeze_after_failure = "until-unfrozen"
      task_family          = "shop-web"
    },
  ]
  slack_enabled = true
}

run "renders_the_config_the_functions_parse" {
  command = apply

  assert {
    condition = output.config_json == jsonencode({
      targets = [
        {
          name                 = "web"
          cluster              = "shop"
          service              = "web"
          containers           = ["app"]
          repository           = "app"
          tags                 = { semver = ">=1.0, <2" }
          policy               = "auto"
          freeze_after_failure = "until-newer-image"
          task_family          = "web"
        },
        {
          name                 = "prod-web"
          cluster              = "shop"
          service              = "web-prod"
          containers           = ["app", "worker"]
          repository           = "app"
          tags                 = { glob = "release-*" }
          policy               = "approval"
          approval             = { expires_after_hours = 24, slack_channel = "C0123" }
          notifications        = { slack_channel = "C0456" }
          freeze_after_failure = "until-unfrozen"
          task_family          = "shop-web"
        },
      ]
    })
    error_message = "The rendered config is not the document src/config.rs expects: ${output.config_json}"
  }

  assert {
    condition     = alltrue([for env in values(output.function_environment) : !contains(keys(env), "SLIPWAY_CONFIG")])
    error_message = "The config must not be inline in an environment (Lambda's 4 KB for all variables)."
  }

  assert {
    condition     = !strcontains(output.config_json, "role")
    error_message = "IAM-only fields leaked into the config."
  }

  assert {
    condition = (
      aws_s3_object.config.content == output.config_json
      && output.function_environment["image-push"].SLIPWAY_CONFIG_S3 == "s3://${output.ledger_bucket}/config/targets.json"
      && output.function_environment["image-push"].SLIPWAY_CONFIG_VERSION == aws_s3_object.config.version_id
      && output.function_environment["image-push"].SLIPWAY_ACCOUNT_ID == "111122223333"
    )
    error_message = "image-push does not get the config object (pinned to the version written) and the account."
  }

  assert {
    condition     = !contains(keys(output.function_environment["approval"]), "SLIPWAY_APPROVAL_URL") && contains(keys(output.function_environment["image-push"]), "SLIPWAY_APPROVAL_URL")
    error_message = "Only the functions that send links get the approval URL."
  }

  assert {
    condition     = output.function_environment["deployment-events"].SLIPWAY_SLACK_SECRET == "slipway-test/slack"
    error_message = "With Slack on, the functions get the Slack secret's name."
  }
}

run "scopes_each_function_to_what_it_calls" {
  command = apply

  # Each function has a role of its own (the local stack runs each function as it; the mock's
  # ARNs are all alike, so tests/local/terraform_local.py checks they differ on the emulator).
  assert {
    condition     = jsonencode(keys(output.function_role_arns)) == jsonencode(keys(output.function_names))
    error_message = "Every function has a role the local stack can run it as."
  }

  # UpdateService and DescribeServices on the two managed services only.
  assert {
    condition = alltrue([
      for f in ["image-push", "source-upload", "approval", "deployment-events"] :
      jsonencode(one([for s in output.function_permissions[f] : s.resources if s.sid == "RollManagedServices"])) == jsonencode([
        "arn:aws:ecs:eu-west-1:111122223333:service/shop/web",
        "arn:aws:ecs:eu-west-1:111122223333:service/shop/web-prod",
      ])
    ])
    error_message = "UpdateService is not scoped to the managed services."
  }

  assert {
    condition = jsonencode(one([for s in output.function_permissions["image-push"] : s.resources if s.sid == "DescribeManagedServices"])) == jsonencode([
      "arn:aws:ecs:eu-west-1:111122223333:service/shop/web",
      "arn:aws:ecs:eu-west-1:111122223333:service/shop/web-prod",
    ])
    error_message = "DescribeServices is not scoped to the managed services."
  }

  # PassRole: only the services' roles, only to ECS tasks.
  assert {
    condition = jsonencode(one([for s in output.function_permissions["image-push"] : s if s.sid == "PassServiceRolesToEcsTasks"])) == jsonencode({
      actions   = ["iam:PassRole"]
      condition = { test = "StringEquals", values = ["ecs-tasks.amazonaws.com"], variable = "iam:PassedToService" }
      resources = ["arn:aws:iam::111122223333:role/web-task", "arn:aws:iam::111122223333:role/web-execution"]
      sid       = "PassServiceRolesToEcsTasks"
    })
    error_message = "PassRole is not limited to the services' roles with iam:PassedToService = ecs-tasks.amazonaws.com."
  }

  # ECR read on the configured repository only.
  assert {
    condition     = jsonencode(one([for s in output.function_permissions["image-push"] : s.resources if s.sid == "ReadConfiguredRepositories"])) == jsonencode(["arn:aws:ecr:eu-west-1:111122223333:repository/app"])
    error_message = "ECR read is not scoped to the configured repositories."
  }

  # deployment-events never registers, passes roles or reads the source bucket; it reads
  # ECR only to check that an operator rollback's image still exists.
  assert {
    condition = length(setintersection(
      [for s in output.function_permissions["deployment-events"] : s.sid],
      ["RegisterRevisions", "TagNewRevisions", "FindOwnRevisions", "PassServiceRolesToEcsTasks", "SourceManifests"],
    )) == 0
    error_message = "deployment-events holds rights it never uses."
  }

  assert {
    condition     = jsonencode(one([for s in output.function_permissions["deployment-events"] : s.resources if s.sid == "ReadConfiguredRepositories"])) == jsonencode(["arn:aws:ecr:eu-west-1:111122223333:repository/app"])
    error_message = "deployment-events cannot check that a rollback's image still exists in ECR (item 14 of issue 17)."
  }

  # source-upload reads uploads, approval re-reads the one it approves (by version id),
  # and reconcile the one that waited for its window: only under the deploy prefix; the
  # others never read the bucket.
  assert {
    condition = alltrue([
      for f in ["image-push", "deployment-events"] :
      !contains([for s in output.function_permissions[f] : s.sid], "SourceManifests")
      ]) && alltrue([
      for f in ["source-upload", "approval", "reconcile"] :
      endswith(one(one([for s in output.function_permissions[f] : s.resources if s.sid == "SourceManifests"])), "/deploy/*")
      && contains(one([for s in output.function_permissions[f] : s.actions if s.sid == "SourceManifests"]), "s3:GetObjectVersion")
    ])
    error_message = "Source bucket reads are not limited to source-upload, approval and reconcile, and to the deploy prefix."
  }

  # Without ListBucket a missing upload reads as 403 (permanent) instead of 404: granted
  # to the readers, and only for keys under the deploy prefix.
  assert {
    condition = alltrue([
      for f in ["source-upload", "approval", "reconcile"] :
      jsonencode(one([for s in output.function_permissions[f] : s if s.sid == "SourceManifestsList"])) == jsonencode({
        actions   = ["s3:ListBucket"]
        condition = null
        resources = ["arn:aws:s3:::mock"]
        sid       = "SourceManifestsList"
      })
    ])
    error_message = "ListBucket on the source bucket (unconditioned: S3's 404-or-403 decision has no s3:prefix) is missing."
  }

  # No action on "*" except the ones AWS offers no resource-level permission for.
  assert {
    condition = alltrue(flatten([
      for f, statements in output.function_permissions : [
        for s in statements : contains(s.resources, "*") ? length(setsubtract(s.actions, [
          "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions",
          "xray:PutTraceSegments", "xray:PutTelemetryRecords",
        ])) == 0 : true
      ]
    ]))
    error_message = "An action that supports resource-level permissions is granted on \"*\"."
  }

  # Slack approvals roll in a job the approval function invokes itself with: it may invoke
  # itself and nothing else, and no other function may invoke anything.
  assert {
    condition = jsonencode(one([for s in output.function_permissions["approval"] : s if s.sid == "HandOverRollsToItself"])) == jsonencode({
      actions   = ["lambda:InvokeFunction"]
      condition = null
      resources = ["arn:aws:lambda:eu-west-1:111122223333:function:slipway-test-approval"]
      sid       = "HandOverRollsToItself"
      }) && alltrue([
      for f in ["image-push", "source-upload", "deployment-events"] :
      !contains(flatten([for s in output.function_permissions[f] : s.actions]), "lambda:InvokeFunction")
    ]) && output.function_environment["approval"].SLIPWAY_ROLL_ASYNC == "1"
    error_message = "The approval function's self-invoke grant is missing, wider than itself, or held by another function."
  }

  # Registering, tagging and rolling only in the targets' task-definition families (the
  # service's name unless the target names one), and UpdateService only onto them.
  assert {
    condition = alltrue([
      for sid in ["RegisterRevisions", "TagNewRevisions"] :
      toset(one([for s in output.function_permissions["image-push"] : s.resources if s.sid == sid])) == toset([
        "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:*",
        "arn:aws:ecs:eu-west-1:111122223333:task-definition/shop-web:*",
      ])
      ]) && alltrue([
      for f in ["image-push", "source-upload", "approval", "deployment-events"] : [
        for c in [one([for s in output.function_permissions[f] : s.condition if s.sid == "RollManagedServices"])] :
        c.test == "ArnLike" && c.variable == "ecs:task-definition" && toset(c.values) == toset([
          "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:*",
          "arn:aws:ecs:eu-west-1:111122223333:task-definition/shop-web:*",
        ])
      ][0]
    ])
    error_message = "Registering, tagging or rolling is not limited to the targets' task-definition families: ${jsonencode(output.function_permissions["image-push"])}"
  }

  # Tagging only while registering.
  assert {
    condition     = jsonencode(one([for s in output.function_permissions["image-push"] : s.condition if s.sid == "TagNewRevisions"]).values) == jsonencode(["RegisterTaskDefinition"])
    error_message = "ecs:TagResource is not limited to RegisterTaskDefinition."
  }
}

run "wakes_the_functions_with_exact_patterns" {
  command = apply

  assert {
    condition = jsonencode(jsondecode(output.event_patterns["image-push"])) == jsonencode({
      detail        = { "action-type" = ["PUSH"], "repository-name" = ["app"], result = ["SUCCESS"] }
      "detail-type" = ["ECR Image Action"]
      source        = ["aws.ecr"]
    })
    error_message = "The ECR rule is not PUSH/SUCCESS for the configured repositories."
  }

  assert {
    condition     = jsonencode(jsondecode(output.event_patterns["ecs-deployments"]).resources) == jsonencode(["arn:aws:ecs:eu-west-1:111122223333:service/shop/web", "arn:aws:ecs:eu-west-1:111122223333:service/shop/web-prod"])
    error_message = "The ECS rule does not name exactly the managed services."
  }

  assert {
    condition     = jsonencode(jsondecode(output.event_patterns["ecs-hooks"]).detail.serviceArn) == jsonencode(["arn:aws:ecs:eu-west-1:111122223333:service/shop/web", "arn:aws:ecs:eu-west-1:111122223333:service/shop/web-prod"])
    error_message = "The ECS hook rule does not match exactly the managed services (by detail.serviceArn: resources[0] is the service deployment)."
  }

  assert {
    condition     = jsonencode(jsondecode(output.event_patterns["source-upload"]).detail.object.key) == jsonencode([{ prefix = "deploy/" }])
    error_message = "The S3 rule does not filter the deploy prefix."
  }

  # The reconciler runs on a schedule (no pattern), every 5 minutes unless configured.
  assert {
    condition     = aws_cloudwatch_event_rule.this["reconcile"].schedule_expression == "rate(5 minutes)" && output.event_patterns["reconcile"] == null && aws_cloudwatch_event_target.this["reconcile"].arn == aws_lambda_function.event_driven["reconcile"].arn
    error_message = "The reconciler is not scheduled every 5 minutes."
  }

  assert {
    condition     = jsonencode(jsondecode(output.event_patterns["operator-requests"]).source) == jsonencode(["slipway.operator"])
    error_message = "Operator requests do not reach deployment-events."
  }

  assert {
    condition     = toset(keys(output.dead_letter_queue_urls)) == toset(["image-push", "source-upload", "deployment-events", "reconcile", "approval"])
    error_message = "Each function invoked asynchronously (the event-driven ones, and approval for its roll jobs) has a dead-letter queue."
  }
}

run "builds_the_functions_and_buckets_as_documented" {
  command = apply

  assert {
    condition = alltrue([
      for f in aws_lambda_function.event_driven : f.runtime == "provided.al2023" && f.handler == "bootstrap" && tolist(f.architectures) == tolist(["arm64"])
    ])
    error_message = "The functions are provided.al2023 bootstrap zips on arm64."
  }

  assert {
    condition = alltrue([
      for c in aws_lambda_function_event_invoke_config.this : c.maximum_retry_attempts == 2 && c.maximum_event_age_in_seconds == 3600 && c.destination_config[0].on_failure[0].destination != null
    ])
    error_message = "Every event-driven function has bounded retries, a maximum event age and an on-failure destination."
  }

  # The approval endpoint is an HTTP API: one permission, for API Gateway and this API
  # only. A function URL would need lambda:InvokeFunction with lambda:InvokedViaFunctionUrl,
  # which this provider cannot write; without the condition it would open the Invoke API.
  assert {
    condition = (
      aws_lambda_permission.approval_api.action == "lambda:InvokeFunction"
      && aws_lambda_permission.approval_api.principal == "apigateway.amazonaws.com"
      && aws_lambda_permission.approval_api.source_arn == "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5/*"
      && aws_lambda_permission.approval_api.function_name == aws_lambda_function.approval.function_name
    )
    error_message = "The approval function may be invoked by API Gateway for the approval API only: ${jsonencode(aws_lambda_permission.approval_api)}"
  }

  assert {
    condition = (
      aws_apigatewayv2_integration.approval.payload_format_version == "2.0"
      && aws_apigatewayv2_integration.approval.integration_type == "AWS_PROXY"
      && aws_apigatewayv2_stage.approval.name == "$default"
      && aws_apigatewayv2_stage.approval.default_route_settings[0].throttling_rate_limit == 20
      && aws_apigatewayv2_stage.approval.default_route_settings[0].throttling_burst_limit == 50
      && sort([for r in aws_apigatewayv2_route.approval : r.route_key]) == sort(["GET /approvals/{id}", "POST /approvals/{id}", "GET /group-approvals/{id}", "POST /group-approvals/{id}", "POST /slack/interactions"])
    )
    error_message = "The approval API is not the 2.0 proxy of the function on a throttled $default stage with the page, decision and Slack routes."
  }

  assert {
    condition     = output.function_environment["image-push"].SLIPWAY_APPROVAL_URL == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/" && output.approval_url == output.function_environment["image-push"].SLIPWAY_APPROVAL_URL
    error_message = "Approval links do not point at the approval API's $default stage."
  }

  assert {
    condition     = aws_lambda_function.approval.timeout < 30
    error_message = "The approval function must end before the HTTP API's 30 s integration timeout."
  }

  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.this : v.versioning_configuration[0].status == "Enabled"]) && aws_s3_bucket_notification.source.eventbridge
    error_message = "Both buckets are versioned and the source bucket notifies EventBridge."
  }

  assert {
    condition = alltrue([
      for b in aws_s3_bucket_public_access_block.this : b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets
    ])
    error_message = "Public access is blocked on both buckets."
  }

  assert {
    condition     = length(aws_s3_bucket_policy.this) == 2
    error_message = "Both buckets deny requests without TLS."
  }

  # The operator endpoint is the one IAM-authorised route: API Gateway verifies the caller
  # (src/web/operator.rs acts only for the identity it passes on).
  assert {
    condition = (
      aws_apigatewayv2_route.operator.route_key == "POST /operator/{action}"
      && aws_apigatewayv2_route.operator.authorization_type == "AWS_IAM"
      && alltrue([for r in aws_apigatewayv2_route.approval : r.authorization_type == "NONE" && !startswith(r.route_key, "POST /operator")])
      && contains(data.aws_iam_policy_document.operator.statement[0].actions, "execute-api:Invoke")
      && endswith(one(data.aws_iam_policy_document.operator.statement[0].resources), "/*/POST/operator/*")
    )
    error_message = "The operator endpoint must be POST /operator/{action} with AWS_IAM authorization, and operators get a policy for it."
  }

  # The operator's command line finds everything from this one parameter (src/cli/settings.rs).
  assert {
    condition = (
      aws_ssm_parameter.settings.name == "/slipway/test/settings"
      && aws_ssm_parameter.settings.type == "String"
      && nonsensitive(jsondecode(aws_ssm_parameter.settings.value).ledger_bucket) == output.ledger_bucket
      && nonsensitive(jsondecode(aws_ssm_parameter.settings.value).config_s3) == "s3://${output.ledger_bucket}/config/targets.json"
      && sort(keys(nonsensitive(jsondecode(aws_ssm_parameter.settings.value).dead_letter_queues))) == sort(keys(aws_sqs_queue.dead_letters))
      && sort(keys(nonsensitive(jsondecode(aws_ssm_parameter.settings.value).functions))) == sort(keys(output.function_arns))
      && nonsensitive(jsondecode(aws_ssm_parameter.settings.value).operator_url) == "${output.approval_url}operator"
      && length(nonsensitive(jsondecode(aws_ssm_parameter.settings.value).replay_rule_arns)) == 4
      && endswith(aws_cloudwatch_event_archive.slipway.event_source_arn, ":event-bus/default")
    )
    error_message = "The settings parameter does not name the ledger, the config, every dead-letter queue and every function."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.function : g.retention_in_days == 365])
    error_message = "Every function's log group has a retention."
  }
}

run "refuses_a_target_with_an_unknown_policy" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { semver = ">=1" }
      policy     = "yolo"
    }]
  }

  expect_failures = [var.targets]
}

run "refuses_a_target_with_two_tag_rules" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { semver = ">=1", glob = "*" }
      policy     = "auto"
    }]
  }

  expect_failures = [var.targets]
}

run "derives_names_from_a_cluster_and_service_given_by_arn" {
  command = apply

  variables {
    targets = [{
      name       = "web"
      cluster    = "arn:aws:ecs:eu-west-1:111122223333:cluster/shop"
      service    = "arn:aws:ecs:eu-west-1:111122223333:service/shop/web"
      containers = ["app"]
      repository = "app"
      tags       = { semver = ">=1" }
      policy     = "auto"
    }]
  }

  assert {
    condition     = jsonencode(one([for s in output.function_permissions["image-push"] : s.resources if s.sid == "RollManagedServices"])) == jsonencode(["arn:aws:ecs:eu-west-1:111122223333:service/shop/web"])
    error_message = "IAM resources built from ARNs are malformed: ${jsonencode(output.function_permissions["image-push"])}"
  }

  assert {
    condition     = jsonencode(jsondecode(output.event_patterns["ecs-deployments"]).resources) == jsonencode(["arn:aws:ecs:eu-west-1:111122223333:service/shop/web"])
    error_message = "The ECS rule built from ARNs does not name the service."
  }
}

run "refuses_a_short_service_arn" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "arn:aws:ecs:eu-west-1:111122223333:service/web"
      containers = ["app"]
      repository = "app"
      tags       = { semver = ">=1" }
      policy     = "auto"
    }]
  }

  expect_failures = [var.targets]
}

run "refuses_a_service_arn_of_another_cluster" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "arn:aws:ecs:eu-west-1:111122223333:service/other/web"
      containers = ["app"]
      repository = "app"
      tags       = { semver = ">=1" }
      policy     = "auto"
    }]
  }

  expect_failures = [var.targets]
}

# Lambda allows 4 KB for all of a function's environment variables; with the config in
# the environment about a dozen targets broke `terraform apply` on AWS (the emulator does
# not enforce the limit). Forty targets: the config object grows, the environment not.
run "forty_targets_fit_because_the_config_is_an_object" {
  command = apply

  variables {
    targets = [for i in range(40) : {
      name                 = "service-with-a-long-name-${i}"
      cluster              = "arn:aws:ecs:eu-west-1:111122223333:cluster/shop-production"
      service              = "arn:aws:ecs:eu-west-1:111122223333:service/shop-production/service-with-a-long-name-${i}"
      containers           = ["app", "worker"]
      repository           = "shop/service-with-a-long-name-${i}"
      tags                 = { semver = ">=1.0.0, <2.0.0" }
      policy               = "approval"
      approval             = { expires_after_hours = 24, slack_channel = "C0123456789", slack_approvers = ["U0123456789", "U9876543210"] }
      freeze_after_failure = "until-unfrozen"
    }]
  }

  assert {
    condition     = length(jsondecode(aws_s3_object.config.content).targets) == 40 && length(aws_s3_object.config.content) > 4096
    error_message = "The config object does not hold the forty targets."
  }

  assert {
    condition     = alltrue([for env in values(output.function_environment) : length(jsonencode(env)) < 4096])
    error_message = "A function's environment is over Lambda's 4 KB: ${jsonencode({ for f, env in output.function_environment : f => length(jsonencode(env)) })}"
  }
}

run "operator_requests_come_only_from_the_operator_principals" {
  command = apply

  variables {
    operator_principals = ["arn:aws:iam::111122223333:role/platform-*"]
  }

  assert {
    condition     = aws_cloudwatch_event_rule.this["operator-requests"].event_bus_name == "slipway-test-operator" && aws_cloudwatch_event_target.this["operator-requests"].event_bus_name == "slipway-test-operator"
    error_message = "Operator requests are not read from the operator bus only."
  }

  assert {
    condition     = alltrue([for key in ["image-push", "source-upload", "ecs-deployments", "ecs-hooks"] : aws_cloudwatch_event_rule.this[key].event_bus_name != "slipway-test-operator"])
    error_message = "AWS's own events must stay on the default bus."
  }

  assert {
    condition = jsonencode(output.operator_bus_deny) == jsonencode({
      actions   = ["events:PutEvents"]
      condition = { test = "ArnNotLike", values = ["arn:aws:iam::111122223333:role/platform-*"], variable = "aws:PrincipalArn" }
      sid       = "OnlyOperatorsSendRequests"
    })
    error_message = "The operator bus does not deny PutEvents to everyone but the operator principals: ${jsonencode(output.operator_bus_deny)}"
  }
}

run "without_operator_principals_nobody_may_send_operator_requests" {
  command = apply

  assert {
    condition     = output.operator_bus_deny.condition == null && jsonencode(output.operator_bus_deny.actions) == jsonencode(["events:PutEvents"])
    error_message = "With no operator principals the operator bus must deny every PutEvents."
  }
}

run "renders_a_progressive_target_and_grants_what_its_rollouts_call" {
  command = apply

  variables {
    targets = [{
      name       = "prod-web"
      cluster    = "shop"
      service    = "web-prod"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "release-*" }
      policy     = "approval"
      rollout = {
        strategy    = "canary"
        canary      = { percent = 10 }
        alarms      = ["web-prod-5xx"]
        approval_at = "post-test-traffic"
        load_balancer = {
          target_group_arn           = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/blue/1"
          container_name             = "app"
          container_port             = 8080
          alternate_target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/green/2"
          production_listener_rule   = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/1/2/3"
          test_listener_rule         = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/1/2/4"
          role_arn                   = "arn:aws:iam::111122223333:role/ecs-infrastructure-shop"
        }
      }
    }]
  }

  # Unset fields are left out (src/input/config/rollout.rs applies ECS's defaults), also
  # inside the canary and load-balancer blocks.
  assert {
    condition = jsonencode(jsondecode(output.config_json).targets[0].rollout) == jsonencode({
      alarms          = ["web-prod-5xx"]
      approval_at     = "post-test-traffic"
      canary          = { percent = 10 }
      load_balancer   = { alternate_target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/green/2", container_name = "app", container_port = 8080, production_listener_rule = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/1/2/3", role_arn = "arn:aws:iam::111122223333:role/ecs-infrastructure-shop", target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/blue/1", test_listener_rule = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/1/2/4" }
      service_connect = false
      strategy        = "canary"
    })
    error_message = "The rollout block is not rendered as the functions parse it: ${jsonencode(jsondecode(output.config_json).targets[0])}"
  }

  # Whoever rolls may pass the load balancer's infrastructure role, to ECS only.
  assert {
    condition = alltrue([
      for f in ["image-push", "source-upload", "approval", "deployment-events", "reconcile"] :
      jsonencode(one([for s in output.function_permissions[f] : s if s.sid == "PassLoadBalancerRolesToEcs"])) == jsonencode({
        actions   = ["iam:PassRole"]
        condition = { test = "StringEquals", values = ["ecs.amazonaws.com"], variable = "iam:PassedToService" }
        resources = ["arn:aws:iam::111122223333:role/ecs-infrastructure-shop"]
        sid       = "PassLoadBalancerRolesToEcs"
      })
    ])
    error_message = "PassRole of the load balancer's infrastructure role is missing or not limited to ECS."
  }

  # Answering ECS's pause: the approval function (a person's decision) and
  # deployment-events (the later steps), on the service and its service deployments only.
  assert {
    condition = alltrue([
      for f in ["approval", "deployment-events"] :
      jsonencode(one([for s in output.function_permissions[f] : s.resources if s.sid == "AnswerPausedRollouts"])) == jsonencode([
        "arn:aws:ecs:eu-west-1:111122223333:service/shop/web-prod",
        "arn:aws:ecs:eu-west-1:111122223333:service-deployment/shop/web-prod/*",
      ])
    ]) && alltrue([for f in ["image-push", "source-upload", "reconcile"] : !anytrue([for s in output.function_permissions[f] : s.sid == "AnswerPausedRollouts"])])
    error_message = "ContinueServiceDeployment is not granted exactly to the functions that answer pauses, on the managed service's deployments."
  }

  assert {
    condition = jsonencode(one([for s in output.function_permissions["reconcile"] : s if s.sid == "ReadServiceDeployments"])) == jsonencode({
      actions   = ["ecs:DescribeServiceDeployments"]
      condition = null
      resources = ["arn:aws:ecs:eu-west-1:111122223333:service/shop/web-prod", "arn:aws:ecs:eu-west-1:111122223333:service-deployment/shop/web-prod/*"]
      sid       = "ReadServiceDeployments"
    })
    error_message = "The reconciler cannot read (only read) the progressive rollouts' service deployments."
  }
}

run "refuses_a_rollout_strategy_ecs_does_not_have" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "v*" }
      policy     = "auto"
      rollout    = { strategy = "waves" }
    }]
  }

  expect_failures = [var.targets]
}

run "refuses_an_approval_where_ecs_may_never_pause" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "v*" }
      policy     = "approval"
      rollout    = { strategy = "canary", approval_at = "reconcile-service", service_connect = true }
    }]
  }

  expect_failures = [var.targets]
}

run "a_test_probe_names_slipways_hook_function_and_passes_its_role_to_ecs_only" {
  command = apply

  variables {
    test_probe_network = { subnet_ids = ["subnet-private-a"], security_group_ids = ["sg-probe"] }
    targets = [{
      name       = "prod-web"
      cluster    = "shop"
      service    = "web-prod"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "release-*" }
      policy     = "auto"
      rollout = {
        strategy = "canary"
        load_balancer = {
          target_group_arn           = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/blue/1"
          container_name             = "app"
          container_port             = 8080
          alternate_target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/green/2"
          production_listener_rule   = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/1/2/3"
          test_listener_rule         = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/1/2/4"
          role_arn                   = "arn:aws:iam::111122223333:role/ecs-infrastructure-shop"
          test_url                   = "https://web.example.com:8443/"
        }
        test_probe = { path = "/healthz", for_seconds = 120 }
      }
    }]
  }

  assert {
    condition = jsonencode(jsondecode(output.config_json).targets[0].rollout.test_probe) == jsonencode({
      for_seconds  = 120
      function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:slipway-test-test-probe"
      path         = "/healthz"
      role_arn     = output.ecs_hooks_role_arn
    })
    error_message = "The test probe is not rendered with Slipway's hook function and ECS's role: ${jsonencode(jsondecode(output.config_json).targets[0].rollout)}"
  }

  assert {
    condition = alltrue([
      for f in ["image-push", "source-upload", "approval", "deployment-events", "reconcile"] :
      jsonencode(one([for s in output.function_permissions[f] : s if s.sid == "PassHookRoleToEcs"])) == jsonencode({
        actions   = ["iam:PassRole"]
        condition = { test = "StringEquals", values = ["ecs.amazonaws.com"], variable = "iam:PassedToService" }
        resources = [output.ecs_hooks_role_arn]
        sid       = "PassHookRoleToEcs"
      })
    ])
    error_message = "PassRole of the hooks role is missing from a function that rolls, or not limited to ECS."
  }

  # The probe calls no AWS API: its logs, tracing, and (in the VPC) its network interfaces.
  assert {
    condition     = [for s in output.function_permissions["test-probe"] : s.sid] == ["WriteOwnLogs", "Tracing", "ManageVpcInterfaces"]
    error_message = "The test probe holds grants it does not need: ${jsonencode(output.function_permissions["test-probe"])}"
  }

  assert {
    condition     = jsonencode(aws_lambda_function.test_probe.environment[0].variables) == jsonencode({ RUST_LOG = "info", SLIPWAY_TEST_PROBE_ORIGINS = "https://web.example.com:8443" })
    error_message = "The test probe may GET other origins than the probed targets' test listeners: ${jsonencode(aws_lambda_function.test_probe.environment[0].variables)}"
  }

  assert {
    condition     = aws_lambda_function.test_probe.vpc_config[0].subnet_ids == toset(["subnet-private-a"])
    error_message = "The test probe does not run in the subnets it was given."
  }

  assert {
    condition     = data.aws_iam_policy_document.ecs_hooks.statement[0].resources == toset(["arn:aws:lambda:eu-west-1:111122223333:function:slipway-test-test-probe"])
    error_message = "ECS's hooks role may invoke more than the test probe."
  }
}

run "refuses_a_test_probe_without_a_test_listener" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "release-*" }
      policy     = "auto"
      rollout = {
        strategy   = "rolling"
        test_probe = { path = "/healthz" }
      }
    }]
  }

  expect_failures = [var.targets]
}

run "renders_a_targets_deployment_windows" {
  command = apply

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "release-*" }
      policy     = "auto"
      windows    = { time_zone = "Europe/Berlin", deny = ["FR 16:00 -> MO 08:00"] }
    }]
  }

  assert {
    condition     = jsonencode(jsondecode(output.config_json).targets[0].windows) == jsonencode({ allow = [], deny = ["FR 16:00 -> MO 08:00"], time_zone = "Europe/Berlin" })
    error_message = "The windows are not rendered as the functions parse them: ${jsonencode(jsondecode(output.config_json).targets[0])}"
  }
}

run "refuses_a_window_span_of_the_wrong_shape" {
  command = plan

  variables {
    targets = [{
      name       = "web"
      cluster    = "shop"
      service    = "web"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "release-*" }
      policy     = "auto"
      windows    = { time_zone = "Europe/Berlin", deny = ["FR 16:00 - MO 08:00"] }
    }]
  }

  expect_failures = [var.targets]
}

run "renders_a_promotion_and_grants_only_its_alarms_history" {
  command = apply

  variables {
    targets = [
      {
        name       = "web"
        cluster    = "shop"
        service    = "web"
        containers = ["app"]
        repository = "app"
        tags       = { glob = "main-*" }
        policy     = "auto"
      },
      {
        name       = "web-prod"
        cluster    = "shop"
        service    = "web-prod"
        containers = ["app"]
        repository = "app"
        tags       = { glob = "v*" }
        policy     = "auto"
        promotion  = { from = ["web"], soak = "2h", alarms_ok = ["web-5xx"] }
      },
    ]
  }

  assert {
    condition     = jsonencode(jsondecode(output.config_json).targets[1].promotion) == jsonencode({ alarms_ok = ["web-5xx"], from = ["web"], soak = "2h" })
    error_message = "The promotion is not rendered as the functions parse it: ${jsonencode(jsondecode(output.config_json).targets[1])}"
  }

  assert {
    condition = alltrue([for f in ["image-push", "source-upload", "reconcile", "deployment-events", "approval"] :
      jsonencode(one([for s in output.function_permissions[f] : s if s.sid == "ReadPromotionAlarms"])) == jsonencode({
        sid       = "ReadPromotionAlarms"
        actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"]
        resources = ["arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-5xx"]
        condition = null
      })
    ])
    error_message = "The functions that run the promotion gate (the approval function too: slipway bypass-soak, slipway plan) must read the named alarms' history, and only theirs."
  }

  assert {
    condition     = length([for s in output.function_permissions["test-probe"] : s if s.sid == "ReadPromotionAlarms"]) == 0
    error_message = "The test probe never runs the gate: it gets no alarm grant."
  }

  # Promotion hints: the functions that record successes may put them on Slipway's
  # promotion bus, and only there; the bus denies everyone else; its rule hands only
  # the hints to deployment-events, which judges the soak's alarms when it looks again.
  assert {
    condition = alltrue([for f in ["deployment-events", "reconcile", "approval"] :
      jsonencode(one([for s in output.function_permissions[f] : s if s.sid == "PublishPromotionHints"])) == jsonencode({
        sid = "PublishPromotionHints", actions = ["events:PutEvents"], resources = [aws_cloudwatch_event_bus.promotion[0].arn], condition = null
      })
      && output.function_environment[f].SLIPWAY_HINT_BUS == aws_cloudwatch_event_bus.promotion[0].name
    ])
    error_message = "The functions that record successes must publish hints on the promotion bus only."
  }

  assert {
    condition = alltrue([for f in ["image-push", "source-upload", "test-probe"] :
    length([for s in output.function_permissions[f] : s if s.sid == "PublishPromotionHints"]) == 0])
    error_message = "Only the functions that record successes publish hints."
  }

  assert {
    condition = jsonencode(output.promotion_bus_deny) == jsonencode({
      actions   = ["events:PutEvents"]
      condition = { test = "ArnNotEquals", values = [for f in ["approval", "deployment-events", "reconcile"] : aws_iam_role.function[f].arn], variable = "aws:PrincipalArn" }
      sid       = "OnlySlipwayPublishesHints"
    }) && aws_cloudwatch_event_bus_policy.promotion[0].event_bus_name == aws_cloudwatch_event_bus.promotion[0].name
    error_message = "The promotion bus must deny PutEvents to all but Slipway's publishing functions: ${jsonencode(output.promotion_bus_deny)}"
  }

  assert {
    condition = (aws_cloudwatch_event_rule.this["promotion-hints"].event_bus_name == aws_cloudwatch_event_bus.promotion[0].name
      && jsonencode(jsondecode(output.event_patterns["promotion-hints"])) == jsonencode({ "detail-type" = ["Slipway Upstream Succeeded"], source = ["slipway.promotion"] })
    && aws_cloudwatch_event_target.this["promotion-hints"].arn == aws_lambda_function.event_driven["deployment-events"].arn)
    error_message = "Hints must go from the promotion bus to deployment-events, and only hints."
  }

  assert {
    condition     = length([for s in output.function_permissions["deployment-events"] : s if contains(["ReadPromotionAlarms", "RegisterRevisions"], s.sid)]) == 2
    error_message = "deployment-events looks again on a hint: it reads the soak's alarms and registers the release."
  }
}

run "refuses_a_promotion_from_an_unknown_target" {
  command = plan

  variables {
    targets = [{
      name       = "web-prod"
      cluster    = "shop"
      service    = "web-prod"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "v*" }
      policy     = "auto"
      promotion  = { from = ["staging"] }
    }]
  }

  expect_failures = [var.targets]
}

run "renders_a_release_group_and_grants_only_its_tasks" {
  command = apply

  variables {
    groups = [{
      name       = "shop"
      on_failure = "rollback-completed"
      steps = [
        { task = { name = "migrate", target = "web", container = "app", command = ["./manage", "migrate"], timeout = "15m" } },
        { service = "prod-web" },
      ]
    }]
  }

  assert {
    condition = jsonencode(jsondecode(output.config_json).groups) == jsonencode([{
      name       = "shop"
      on_failure = "rollback-completed"
      steps = [
        { task = { command = ["./manage", "migrate"], container = "app", name = "migrate", target = "web", timeout = "15m" } },
        { service = "prod-web" },
      ]
    }])
    error_message = "The group is not rendered as the functions parse it: ${output.config_json}"
  }

  # RunTask only of the task step's target's family, only in its cluster; StopTask and
  # DescribeTasks only on that cluster's tasks.
  assert {
    condition = alltrue([for f in ["image-push", "source-upload", "deployment-events", "reconcile", "approval"] :
      jsonencode(one([for s in output.function_permissions[f] : s if s.sid == "RunGroupTasks"])) == jsonencode({
        sid       = "RunGroupTasks"
        actions   = ["ecs:RunTask"]
        resources = ["arn:aws:ecs:eu-west-1:111122223333:task-definition/web:*"]
        condition = { test = "ArnEquals", variable = "ecs:cluster", values = ["arn:aws:ecs:eu-west-1:111122223333:cluster/shop"] }
      })
      && jsonencode(one([for s in output.function_permissions[f] : s.resources if s.sid == "FollowGroupTasks"])) == jsonencode(["arn:aws:ecs:eu-west-1:111122223333:task/shop/*"])
      && jsonencode(one([for s in output.function_permissions[f] : s.resources if s.sid == "GroupLedger"])) == jsonencode(["${aws_s3_bucket.this["ledger"].arn}/groups/*"])
    ])
    error_message = "The functions that drive runs must run, stop and describe the group's tasks, and only those, and write the runs"
  }

  # A run's next step may be a registration from deployment-events (a step's rollout
  # ended), which passes the revision's roles.
  assert {
    condition     = length([for s in output.function_permissions["deployment-events"] : s if contains(["RegisterRevisions", "PassServiceRolesToEcsTasks"], s.sid)]) == 2
    error_message = "deployment-events drives runs: it registers revisions and passes their roles."
  }

  assert {
    condition     = length([for s in output.function_permissions["test-probe"] : s if contains(["RunGroupTasks", "FollowGroupTasks", "GroupLedger"], s.sid)]) == 0
    error_message = "The test-probe function drives no run: no group grant."
  }

  # Approving a run on its page starts it in the approval function: the first steps'
  # registrations (passing the revisions' roles) and the migration's RunTask.
  assert {
    condition     = length([for s in output.function_permissions["approval"] : s if contains(["RegisterRevisions", "PassServiceRolesToEcsTasks"], s.sid)]) == 2
    error_message = "The approval function starts approved runs: it registers revisions and passes their roles."
  }

  assert {
    condition = jsonencode(jsondecode(output.event_patterns["ecs-tasks"])) == jsonencode({
      detail        = { clusterArn = ["arn:aws:ecs:eu-west-1:111122223333:cluster/shop"], lastStatus = ["STOPPED"], startedBy = [{ prefix = "slipway/" }] }
      "detail-type" = ["ECS Task State Change"]
      source        = ["aws.ecs"]
    })
    error_message = "The task rule must take only STOPPED tasks Slipway started in the groups' clusters."
  }

  assert {
    condition     = aws_cloudwatch_event_target.this["ecs-tasks"].arn == aws_lambda_function.event_driven["deployment-events"].arn
    error_message = "Task events go to deployment-events."
  }

  assert {
    condition     = contains(jsondecode(aws_cloudwatch_event_archive.slipway.event_pattern)["detail-type"], "ECS Task State Change")
    error_message = "The archive keeps the task events (ECS forgets a stopped task within the hour)."
  }
}

run "without_groups_no_function_may_run_tasks" {
  command = plan

  assert {
    condition = alltrue([for f, statements in output.function_permissions :
      length([for s in statements : s if contains(["RunGroupTasks", "FollowGroupTasks", "GroupLedger"], s.sid)]) == 0
    ])
    error_message = "Without release groups, no function may run tasks or write runs."
  }

  assert {
    condition     = length(aws_cloudwatch_event_bus.promotion) == 0 && !contains(keys(local.rules), "promotion-hints") && alltrue([for f, statements in output.function_permissions : length([for s in statements : s if s.sid == "PublishPromotionHints"]) == 0])
    error_message = "Without promotion there is no promotion bus, no hint rule and no hint grant."
  }

  assert {
    condition     = !contains(keys(local.rules), "ecs-tasks") && !can(jsondecode(output.config_json).groups)
    error_message = "Without release groups there is no task rule and no groups in the config."
  }
}

run "refuses_a_group_step_naming_an_unknown_target_or_both_kinds" {
  command = plan

  variables {
    groups = [{
      name = "shop"
      steps = [
        { service = "worker" },
        { task = { name = "migrate", target = "web", container = "app", command = ["migrate"], timeout = "15m" }, service = "web" },
      ]
    }]
  }

  expect_failures = [var.groups]
}

# One-time wake-ups of the reconciler (wake_ups.tf): every function that records a wait
# may create schedules in Slipway's group only and pass only the wake-up role, only to
# Scheduler; the role may invoke only the reconciler; the functions know all three.
run "wake_ups_may_only_schedule_the_reconciler_in_slipways_group" {
  command = apply

  assert {
    condition = alltrue([for f in ["image-push", "source-upload", "deployment-events", "reconcile", "approval"] :
      jsonencode([for s in output.function_permissions[f] : s if contains(["ScheduleWakeUps", "PassWakeUpRoleToScheduler"], s.sid)]) == jsonencode([
        { sid = "ScheduleWakeUps", actions = ["scheduler:CreateSchedule"], resources = ["arn:aws:scheduler:eu-west-1:111122223333:schedule/slipway-test-wake-ups/*"], condition = null },
        { sid = "PassWakeUpRoleToScheduler", actions = ["iam:PassRole"], resources = [aws_iam_role.wake_ups.arn], condition = { test = "StringEquals", variable = "iam:PassedToService", values = ["scheduler.amazonaws.com"] } },
      ])
    ])
    error_message = "The functions that record waits must create schedules only in Slipway's group, passing only the wake-up role to Scheduler."
  }

  assert {
    condition     = length([for s in output.function_permissions["test-probe"] : s if contains(["ScheduleWakeUps", "PassWakeUpRoleToScheduler"], s.sid)]) == 0
    error_message = "The test probe records no wait: no wake-up grant."
  }

  assert {
    condition = (length(data.aws_iam_policy_document.wake_ups.statement) == 1
      && data.aws_iam_policy_document.wake_ups.statement[0].actions == toset(["lambda:InvokeFunction"])
      && data.aws_iam_policy_document.wake_ups.statement[0].resources == toset(["arn:aws:lambda:eu-west-1:111122223333:function:slipway-test-reconcile"])
      && one(data.aws_iam_policy_document.scheduler_assume.statement[0].principals).identifiers == toset(["scheduler.amazonaws.com"])
    )
    error_message = "Scheduler's role may invoke the reconciler, and nothing else."
  }

  assert {
    condition = alltrue([for f in ["image-push", "reconcile", "approval"] :
      output.function_environment[f].SLIPWAY_WAKE_UP_GROUP == "slipway-test-wake-ups"
      && output.function_environment[f].SLIPWAY_WAKE_UP_TARGET == "arn:aws:lambda:eu-west-1:111122223333:function:slipway-test-reconcile"
      && output.function_environment[f].SLIPWAY_WAKE_UP_ROLE == aws_iam_role.wake_ups.arn
    ])
    error_message = "The functions must be told the schedule group, the reconciler and the role."
  }
}

# Promotion across accounts, the downstream side (prod's Slipway): web-prod promotes from
# dev's web, in account 999988887777. The gate reads that target's records only, decrypts
# them with dev's Slipway's key (by its alias), and only dev's forwarder may hint here.
run "reads_an_upstream_slipways_ledger_and_admits_only_its_forwarder" {
  command = apply

  variables {
    targets = [{
      name       = "web-prod"
      cluster    = "shop"
      service    = "web-prod"
      containers = ["app"]
      repository = "app"
      tags       = { glob = "v*" }
      policy     = "auto"
      promotion  = { from = ["dev-web"], soak = "1h" }
    }]
    upstreams = [{
      name                    = "dev-web"
      account_id              = "999988887777"
      ledger_bucket           = "slipway-dev-ledger-999988887777"
      target                  = "web"
      tags                    = { glob = "*" }
      hint_forwarder_role_arn = "arn:aws:iam::999988887777:role/slipway-dev-hint-forwarder"
    }]
  }

  assert {
    condition = jsonencode(jsondecode(output.config_json).upstreams) == jsonencode([{
      account = "999988887777", ledger_bucket = "slipway-dev-ledger-999988887777", name = "dev-web", tags = { glob = "*" }, target = "web"
    }])
    error_message = "The upstream is not rendered as the functions parse it: ${output.config_json}"
  }

  assert {
    condition = alltrue([for f in ["image-push", "source-upload", "reconcile", "deployment-events", "approval"] :
      jsonencode([for s in output.function_permissions[f] : s if contains(["ReadUpstreamLedgers", "ListUpstreamLedgers", "DecryptUpstreamLedgers"], s.sid)]) == jsonencode([
        { sid = "ReadUpstreamLedgers", actions = ["s3:GetObject"], resources = ["arn:aws:s3:::slipway-dev-ledger-999988887777/targets/web/*"], condition = null },
        { sid = "ListUpstreamLedgers", actions = ["s3:ListBucket"], resources = ["arn:aws:s3:::slipway-dev-ledger-999988887777"], condition = null },
        { sid = "DecryptUpstreamLedgers", actions = ["kms:Decrypt"], resources = ["arn:aws:kms:eu-west-1:999988887777:key/*"], condition = { test = "StringEquals", values = ["s3.eu-west-1.amazonaws.com"], variable = "kms:ViaService" } },
      ])
    ])
    error_message = "The functions that run the gate read dev's records of web, list its ledger's keys and decrypt with dev's keys through S3 only: nothing more."
  }

  assert {
    condition     = length([for s in output.function_permissions["test-probe"] : s if s.sid == "ReadUpstreamLedgers"]) == 0
    error_message = "The test probe never runs the gate."
  }

  assert {
    condition = jsonencode(output.cross_account_statements.promotion_bus) == jsonencode({
      actions    = ["events:PutEvents"]
      condition  = { test = "ArnEquals", values = ["arn:aws:iam::999988887777:role/slipway-dev-hint-forwarder"], variable = "aws:PrincipalArn" }
      principals = ["arn:aws:iam::999988887777:root"]
      sid        = "UpstreamSlipwaysForwardHints"
    }) && contains(output.promotion_bus_deny.condition.values, "arn:aws:iam::999988887777:role/slipway-dev-hint-forwarder")
    error_message = "The promotion bus admits dev's forwarder, and no other principal of dev's account."
  }

  assert {
    condition     = output.hint_forwarder_role_arn == null && length(output.cross_account_statements.ledger_bucket) == 0
    error_message = "prod forwards nothing and lets nobody read its ledger."
  }
}

# The upstream side (dev's Slipway): prod's Slipway (account 444455556666) promotes from web.
run "lets_a_downstream_slipway_read_its_targets_records_and_forwards_its_hints" {
  command = apply

  variables {
    promoted_elsewhere = [{
      target       = "web"
      account_id   = "444455556666"
      readers      = ["arn:aws:iam::444455556666:role/slipway-prod-*"]
      hint_bus_arn = "arn:aws:events:eu-west-1:444455556666:event-bus/slipway-prod-promotion"
    }]
  }

  assert {
    condition     = jsondecode(output.config_json).promoted_elsewhere == ["web"]
    error_message = "The functions must hint web's successes though no stage here waits for them."
  }

  assert {
    condition = jsonencode(output.cross_account_statements.ledger_bucket) == jsonencode([
      { actions = ["s3:GetObject"], principal = "arn:aws:iam::444455556666:root", readers = ["arn:aws:iam::444455556666:role/slipway-prod-*"], resources = ["${aws_s3_bucket.this["ledger"].arn}/targets/web/*"], sid = "DownstreamReads0" },
      { actions = ["s3:ListBucket"], principal = "arn:aws:iam::444455556666:root", readers = ["arn:aws:iam::444455556666:role/slipway-prod-*"], resources = [aws_s3_bucket.this["ledger"].arn], sid = "DownstreamLists0" },
    ]) && contains(keys(aws_s3_bucket_policy.this), "ledger")
    error_message = "prod's roles may read web's records and list the ledger's keys, nothing else: ${jsonencode(output.cross_account_statements.ledger_bucket)}"
  }

  assert {
    condition = jsonencode(output.cross_account_statements.key) == jsonencode([{
      actions = ["kms:Decrypt"], principal = "arn:aws:iam::444455556666:root", readers = ["arn:aws:iam::444455556666:role/slipway-prod-*"], sid = "DownstreamDecryptsLedger0", via = "s3.eu-west-1.amazonaws.com"
    }])
    error_message = "prod's roles decrypt through S3 only."
  }

  assert {
    condition = (jsondecode(aws_cloudwatch_event_rule.forward_hints["arn:aws:events:eu-west-1:444455556666:event-bus/slipway-prod-promotion"].event_pattern).detail.target == ["web"]
      && aws_cloudwatch_event_rule.forward_hints["arn:aws:events:eu-west-1:444455556666:event-bus/slipway-prod-promotion"].event_bus_name == aws_cloudwatch_event_bus.promotion[0].name
      && aws_cloudwatch_event_target.forward_hints["arn:aws:events:eu-west-1:444455556666:event-bus/slipway-prod-promotion"].arn == "arn:aws:events:eu-west-1:444455556666:event-bus/slipway-prod-promotion"
    && aws_cloudwatch_event_target.forward_hints["arn:aws:events:eu-west-1:444455556666:event-bus/slipway-prod-promotion"].role_arn == aws_iam_role.hint_forwarder[0].arn)
    error_message = "web's hints, and only web's, go from the promotion bus to prod's, with the forwarder role."
  }

  assert {
    condition     = output.hint_forwarder_role_arn == aws_iam_role.hint_forwarder[0].arn && output.function_environment["deployment-events"].SLIPWAY_HINT_BUS == aws_cloudwatch_event_bus.promotion[0].name
    error_message = "dev publishes hints on its own promotion bus, and prod is given the forwarder's ARN."
  }
}

run "refuses_promoted_elsewhere_naming_an_unknown_target_or_readers_of_another_account" {
  command = plan

  variables {
    promoted_elsewhere = [{
      target     = "api"
      account_id = "444455556666"
      readers    = ["arn:aws:iam::555566667777:role/slipway-prod-*"]
    }]
  }

  expect_failures = [var.promoted_elsewhere]
}
