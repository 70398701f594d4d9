# The ECS cluster, with Container Insights and audited `ecs execute-command` sessions.
resource "aws_cloudwatch_log_group" "exec" {
  name              = "/ecs/${var.name}/execute-command"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.exec_log_kms_key_arn

  tags = var.tags
}

resource "aws_ecs_cluster" "this" {
  # checkov:skip=CKV_AWS_224: execute-command sessions are always logged (OVERRIDE); the CMK for them is optional (var.exec_log_kms_key_arn)
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.exec_log_kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = var.exec_log_kms_key_arn != null
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }

  dynamic "default_capacity_provider_strategy" {
    for_each = var.fargate_spot_weight > 0 ? [1] : []
    content {
      capacity_provider = "FARGATE_SPOT"
      weight            = var.fargate_spot_weight
    }
  }
}
