# What wakes the functions, and where an event goes when it cannot be handled.

locals {
  # Exact patterns: only what Slipway acts on reaches it.
  rules = merge(local.base_rules, local.hint_rules, length(var.groups) == 0 ? {} : {
    # A release group's one-off tasks ending ("ECS Task State Change", Amazon ECS Developer
    # Guide, "Amazon ECS task state change events"): only STOPPED, only tasks Slipway
    # started (startedBy `slipway/<run>/<step>`), only in the groups' clusters. ECS forgets
    # a stopped task about an hour later, so this event is where the exit code is read.
    "ecs-tasks" = {
      bus         = null
      function    = "deployment-events"
      description = "ECS: the release groups' one-off tasks stopped"
      schedule    = null
      pattern = {
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Task State Change"]
        detail = {
          lastStatus = ["STOPPED"]
          startedBy  = [{ prefix = "slipway/" }]
          clusterArn = local.group_cluster_arns
        }
      }
    }
  })
  base_rules = {
    "image-push" = {
      bus         = null
      function    = "image-push"
      description = "ECR: an image was pushed to a repository a target deploys from"
      schedule    = null
      pattern = {
        source        = ["aws.ecr"]
        "detail-type" = ["ECR Image Action"]
        detail = {
          "action-type"     = ["PUSH"]
          result            = ["SUCCESS"]
          "repository-name" = local.repository_names
        }
      }
    }
    "source-upload" = {
      bus         = null
      function    = "source-upload"
      description = "S3: a deploy manifest was uploaded to the source bucket"
      schedule    = null
      pattern = {
        source        = ["aws.s3"]
        "detail-type" = ["Object Created"]
        detail = {
          bucket = { name = [aws_s3_bucket.this["source"].bucket] }
          object = { key = [{ prefix = var.source_prefix }] }
        }
      }
    }
    "ecs-deployments" = {
      bus         = null
      function    = "deployment-events"
      description = "ECS: deployment state changes and service actions of the managed services"
      schedule    = null
      pattern = {
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Deployment State Change", "ECS Service Action"]
        resources     = local.service_arns
      }
    }
    # A progressive rollout's lifecycle hooks ("ECS Hook State Change", Amazon ECS
    # Developer Guide, "Amazon ECS service deployment hook state change events"): their
    # resources[0] is the service deployment, so the services are matched in the detail.
    "ecs-hooks" = {
      bus         = null
      function    = "deployment-events"
      description = "ECS: lifecycle-hook state changes of the managed services' progressive rollouts"
      schedule    = null
      pattern = {
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Hook State Change"]
        detail        = { serviceArn = local.service_arns }
      }
    }
    # Only on Slipway's operator bus, whose policy admits only the operator principals: a
    # request on the default bus, which anyone with events:PutEvents may write to, wakes
    # nothing.
    "operator-requests" = {
      bus         = aws_cloudwatch_event_bus.operator.name
      function    = "deployment-events"
      description = "Operators: rollback and unfreeze requests (aws events put-events --event-bus-name)"
      schedule    = null
      pattern = {
        source        = ["slipway.operator"]
        "detail-type" = ["Slipway Operator Request"]
      }
    }
    # The reconciler's schedule: a lost ECS outcome or ECR push is found within one period.
    "reconcile" = {
      bus         = null
      function    = "reconcile"
      description = "Schedule: the reconciler closes rollouts and deploys pushes whose events were lost"
      schedule    = var.reconcile_schedule
      pattern     = null
    }
  }
}

# One dead-letter queue per function invoked asynchronously: EventBridge puts events it
# could not deliver there, and Lambda puts invocations that failed every retry (with the
# error; through the function's role, so the approval function's queue needs no policy).
resource "aws_sqs_queue" "dead_letters" {
  for_each = local.dead_lettered_functions

  name                      = "${var.name}-${each.key}-dead-letters"
  message_retention_seconds = 1209600 # 14 days, SQS's maximum: time to notice and replay
  kms_master_key_id         = aws_kms_key.this.arn

  tags = var.tags
}

data "aws_iam_policy_document" "dead_letters" {
  for_each = local.async_functions

  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for key, rule in local.rules : aws_cloudwatch_event_rule.this[key].arn if rule.function == each.key]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letters" {
  for_each = local.async_functions

  queue_url = aws_sqs_queue.dead_letters[each.key].id
  policy    = data.aws_iam_policy_document.dead_letters[each.key].json
}

# Operators' requests (rollback, unfreeze) arrive on a bus of their own. Its policy denies
# PutEvents to every principal but `operator_principals`, also within the account: an
# explicit Deny in a resource-based policy overrides any Allow in an identity policy (IAM
# User Guide, "Policy evaluation logic"; EventBridge User Guide, "Permissions for event
# buses in Amazon EventBridge"). The operators still need events:PutEvents on this bus in
# their own IAM policies.
resource "aws_cloudwatch_event_bus" "operator" {
  name = "${var.name}-operator"

  tags = var.tags
}

locals {
  operator_bus_deny = {
    sid     = "OnlyOperatorsSendRequests"
    actions = ["events:PutEvents"]
    # With no operator principals, nobody may send: requests go by direct invoke only.
    condition = length(var.operator_principals) == 0 ? null : {
      test = "ArnNotLike", variable = "aws:PrincipalArn", values = var.operator_principals
    }
  }
}

data "aws_iam_policy_document" "operator_bus" {
  statement {
    sid       = local.operator_bus_deny.sid
    effect    = "Deny"
    actions   = local.operator_bus_deny.actions
    resources = [aws_cloudwatch_event_bus.operator.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    dynamic "condition" {
      for_each = local.operator_bus_deny.condition == null ? [] : [local.operator_bus_deny.condition]
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "operator" {
  event_bus_name = aws_cloudwatch_event_bus.operator.name
  policy         = data.aws_iam_policy_document.operator_bus.json
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rules

  name                = "${var.name}-${each.key}"
  event_bus_name      = each.value.bus
  description         = each.value.description
  event_pattern       = each.value.pattern == null ? null : jsonencode(each.value.pattern)
  schedule_expression = each.value.schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = each.value.bus
  arn            = aws_lambda_function.event_driven[each.value.function].arn

  retry_policy {
    maximum_event_age_in_seconds = var.max_event_age_seconds
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters[each.value.function].arn
  }
}

resource "aws_lambda_permission" "events" {
  for_each = local.rules

  statement_id  = "EventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.event_driven[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this[each.key].arn
}

# Approval requests and deployment outcomes, to people (email) and anything else subscribed.
resource "aws_sns_topic" "approvals" {
  name              = "${var.name}-approvals"
  kms_master_key_id = aws_kms_key.this.arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "approvers" {
  for_each = toset(var.approver_emails)

  topic_arn = aws_sns_topic.approvals.arn
  protocol  = "email"
  endpoint  = each.value
}

# The approval-link signing keys: {"current": {"id", "secret"}, "previous": null}. Terraform
# creates the secret, not its value (which would sit in the state): `make signing-key`
# (README, bootstrap) puts one, and rotates by moving current to previous.
resource "aws_secretsmanager_secret" "signing_keys" {
  # checkov:skip=CKV2_AWS_57: rotation keeps the previous key valid for links already sent; it is `make signing-key`, not a rotation Lambda
  name                    = "${var.name}/approval-signing-keys"
  description             = "HMAC keys that sign Slipway's approval links"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.force_destroy_buckets ? 0 : 7

  tags = var.tags
}

# Slack's signing secret and bot token: {"signing_secret", "bot_token"}, put by the operator
# from the Slack app's settings.
resource "aws_secretsmanager_secret" "slack" {
  # checkov:skip=CKV2_AWS_57: Slack issues these; they rotate in the Slack app, then here
  count = var.slack_enabled ? 1 : 0

  name                    = "${var.name}/slack"
  description             = "Slack signing secret and bot token for Slipway's approvals and outcomes"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.force_destroy_buckets ? 0 : 7

  tags = var.tags
}
