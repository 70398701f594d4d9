# The approval function's public endpoint: an API Gateway HTTP API, not a function URL.
#
# Function URLs created since October 2025 answer 403 unless the function's resource
# policy grants both lambda:InvokeFunctionUrl and lambda:InvokeFunction, the latter with
# the condition lambda:InvokedViaFunctionUrl (Lambda Developer Guide, "Control access to
# Lambda function URLs"). The hashicorp/aws provider gained `invoked_via_function_url`
# only in 6.28.0; with 5.100.0 the only way to write that grant would be
# lambda:InvokeFunction to "*" without the condition, which opens the function's Invoke
# API to every AWS account. An HTTP API sends the same payload (format 2.0) and needs one
# permission whose principal is API Gateway and whose source is this API alone, so the
# Invoke API stays private; its stage also throttles the endpoint (README, "Deploying to
# AWS", says what changes once the provider can be upgraded).
#
# Approvers' browsers cannot sign requests, so the routes have no IAM authorizer: the
# function authenticates every request itself (a signed, expiring approval token bound
# to the deployment, or Slack's request signature) and answers anything else with 403
# without writing.

locals {
  # The $default stage is served from the API's base URL, with no stage prefix in the
  # path (API Gateway Developer Guide, "Stages for HTTP APIs").
  approval_url = "${aws_apigatewayv2_api.approval.api_endpoint}/"

  approval_routes = {
    page           = "GET /approvals/{id}"
    decision       = "POST /approvals/{id}"
    group_page     = "GET /group-approvals/{id}"
    group_decision = "POST /group-approvals/{id}"
    slack          = "POST /slack/interactions"
  }
}

resource "aws_apigatewayv2_api" "approval" {
  name          = "${var.name}-approval"
  description   = "Slipway's approval pages and Slack interactions"
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "approval" {
  api_id                 = aws_apigatewayv2_api.approval.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.approval.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "approval" {
  # checkov:skip=CKV_AWS_309: approvers' browsers and Slack cannot sign with IAM; the function authenticates every request (signed token or Slack signature, comment above)
  for_each = local.approval_routes

  api_id             = aws_apigatewayv2_api.approval.id
  route_key          = each.value
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.approval.id}"
}

# The operator endpoint (`slipway approve|reject|rollback|freeze|unfreeze`): the one route
# with IAM authorization. API Gateway checks the SigV4 signature and the caller's
# execute-api:Invoke on `<api>/<stage>/POST/operator/<action>` before the function runs,
# and hands the verified identity to it in requestContext.authorizer.iam (API Gateway
# Developer Guide, "Control access to HTTP APIs with IAM authorization in API Gateway").
# HTTP APIs have no resource policies, so who may call which action is the callers' own
# IAM policies: `operator_policy_json` is one to attach.
resource "aws_apigatewayv2_route" "operator" {
  api_id             = aws_apigatewayv2_api.approval.id
  route_key          = "POST /operator/{action}"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.approval.id}"
}

data "aws_iam_policy_document" "operator" {
  statement {
    sid     = "SlipwayOperatorEndpoint"
    actions = ["execute-api:Invoke"]
    # Narrow to one action with …/POST/operator/rollback, say.
    resources = ["${aws_apigatewayv2_api.approval.execution_arn}/*/POST/operator/*"]
  }
  statement {
    sid       = "SlipwayReads"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.settings.arn]
  }
  statement {
    sid       = "SlipwayLedgerReads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.this["ledger"].arn}/*"]
  }
  statement {
    sid       = "SlipwayLedgerList"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this["ledger"].arn]
  }
  statement {
    sid       = "SlipwayServices"
    actions   = ["ecs:DescribeServices"]
    resources = local.service_arns
  }
  statement {
    sid       = "SlipwayImages"
    actions   = ["ecr:DescribeImages"]
    resources = local.repository_arns
  }
  # slipway dlq list / redrive: read, then delete a message once its invoke was accepted
  # (a failed one is made visible again).
  statement {
    sid       = "SlipwayDeadLetters"
    actions   = ["sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [for queue in aws_sqs_queue.dead_letters : queue.arn]
  }
  # slipway why: does the image-push rule's pattern match a push (no resource-level
  # permissions).
  statement {
    sid       = "SlipwayTestEventPattern"
    actions   = ["events:TestEventPattern"]
    resources = ["*"]
  }
  # slipway replay: from Slipway's archive, to its rules on the default bus.
  statement {
    sid       = "SlipwayReplay"
    actions   = ["events:StartReplay", "events:DescribeReplay"]
    resources = [aws_cloudwatch_event_archive.slipway.arn, "arn:${local.partition}:events:${local.region}:${local.account}:replay/*"]
  }
  # Not the approval function: whoever may invoke it directly can write any
  # requestContext, and so act as any operator. Its roll jobs' dead letters are the
  # platform team's to redrive.
  statement {
    sid       = "SlipwayRedrive"
    actions   = ["lambda:InvokeFunction"]
    resources = [for f in aws_lambda_function.event_driven : f.arn]
  }
  statement {
    sid       = "SlipwayKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
}

resource "aws_cloudwatch_log_group" "approval_api" {
  name              = "/aws/apigateway/${var.name}-approval"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "approval" {
  api_id      = aws_apigatewayv2_api.approval.id
  name        = "$default"
  auto_deploy = true

  # The endpoint is public: a flood is turned away by API Gateway (429) before it costs
  # invocations.
  default_route_settings {
    throttling_burst_limit = var.approval_throttle.burst
    throttling_rate_limit  = var.approval_throttle.rate_per_second
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.approval_api.arn
    # The request line without the query string: it holds the approval token.
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      time      = "$context.requestTime"
      route     = "$context.routeKey"
      status    = "$context.status"
      latency   = "$context.integrationLatency"
      error     = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

# The one grant on the approval function: API Gateway may invoke it for this API only.
resource "aws_lambda_permission" "approval_api" {
  statement_id  = "ApprovalHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.approval.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.approval.execution_arn}/*"
}
