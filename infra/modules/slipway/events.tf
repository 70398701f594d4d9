# What wakes the functions, and where an event goes when it cannot be handled.

locals {
  # Exact patterns: only what Slipway acts on reaches it.
  rules = {
    "image-push" = {
      function    = "image-push"
      description = "ECR: an image was pushed to a repository a target deploys from"
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
      function    = "source-upload"
      description = "S3: a deploy manifest was uploaded to the source bucket"
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
      function    = "deployment-events"
      description = "ECS: deployment state changes and service actions of the managed services"
      pattern = {
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Deployment State Change", "ECS Service Action"]
        resources     = local.service_arns
      }
    }
    "operator-requests" = {
      function    = "deployment-events"
      description = "Operators: rollback and unfreeze requests (aws events put-events)"
      pattern = {
        source        = ["slipway.operator"]
        "detail-type" = ["Slipway Operator Request"]
      }
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

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rules

  name          = "${var.name}-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.rules

  rule = aws_cloudwatch_event_rule.this[each.key].name
  arn  = aws_lambda_function.event_driven[each.value.function].arn

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
