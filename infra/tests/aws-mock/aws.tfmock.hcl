# A mock AWS for `terraform test` (no account): data sources answer like a real
# account in eu-west-1, and resources get well-formed ARNs (the provider validates them).
# Used by every infra/**/tests/*.tftest.hcl as mock_provider "aws" { source = … }.

mock_data "aws_caller_identity" {
  defaults = { account_id = "111122223333" }
}

mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_data "aws_vpc" {
  defaults = { cidr_block = "10.0.0.0/16" }
}

# Policy documents are rendered by the provider; the mock renders an empty one (tests
# assert the statements through the slipway module's function_permissions output).
mock_data "aws_iam_policy_document" {
  defaults = { json = "{}" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::111122223333:role/mock" }
}

mock_resource "aws_kms_key" {
  defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/mock" }
}

mock_resource "aws_sqs_queue" {
  defaults = { arn = "arn:aws:sqs:eu-west-1:111122223333:mock" }
}

mock_resource "aws_cloudwatch_event_rule" {
  defaults = { arn = "arn:aws:events:eu-west-1:111122223333:rule/mock" }
}

mock_resource "aws_lambda_function" {
  defaults = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:mock" }
}

mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:mock" }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:mock" }
}

mock_resource "aws_s3_bucket" {
  defaults = { arn = "arn:aws:s3:::mock" }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:mock" }
}

mock_resource "aws_ecs_cluster" {
  defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/mock" }
}

mock_resource "aws_ecr_repository" {
  defaults = { arn = "arn:aws:ecr:eu-west-1:111122223333:repository/mock" }
}

mock_resource "aws_lb" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/mock/0123456789abcdef" }
}

mock_resource "aws_lb_target_group" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mock/0123456789abcdef" }
}

mock_resource "aws_acm_certificate" {
  defaults = { arn = "arn:aws:acm:eu-west-1:111122223333:certificate/mock" }
}

mock_resource "aws_ecs_task_definition" {
  defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/mock:1" }
}

mock_resource "aws_iam_openid_connect_provider" {
  defaults = { arn = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com" }
}

mock_resource "aws_apigatewayv2_api" {
  defaults = {
    id            = "a1b2c3d4e5"
    api_endpoint  = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
    execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5"
  }
}

mock_resource "aws_s3_object" {
  defaults = { version_id = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" }
}

mock_resource "aws_lb_listener" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/mock/0123456789abcdef/0123456789abcdef" }
}

mock_resource "aws_lb_listener_rule" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/mock/0123456789abcdef/0123456789abcdef/0123456789abcdef" }
}
