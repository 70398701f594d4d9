# One ECS service behind the ALB: its task definition, roles, security group, logs and
# auto-scaling. Slipway owns the running revision after the first apply.

data "aws_region" "current" {}

locals {
  # EC2 placement: binpack fills instances (fewest to pay for); spread puts tasks in every
  # zone first so losing one zone loses a share, not the service.
  placement_strategies = {
    binpack = [{ type = "binpack", field = "memory" }]
    spread = [
      { type = "spread", field = "attribute:ecs.availability-zone" },
      { type = "spread", field = "instanceId" },
    ]
  }
  placement_strategy = var.launch_type == "EC2" ? local.placement_strategies[var.placement] : []
  has_load_balancer  = var.load_balancer != null
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The execution role: what ECS itself needs to start a task (pull the image, write logs).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

# AmazonECSTaskExecutionRolePolicy allows pulling from every repository; this allows the
# service's own repositories only.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullFromTheServiceRepositories"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = var.repository_arns
  }

  statement {
    # GetAuthorizationToken has no resource-level permissions.
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteServiceLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-tasks"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The task role: what the application may call. Empty: it calls no AWS API. A separate
# role from the execution role, so the app never holds image-pull or log rights.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Tasks of ${var.name}: reachable only from the load balancer"
  vpc_id      = var.vpc_id

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "from_load_balancer" {
  count = local.has_load_balancer ? 1 : 0

  security_group_id            = aws_security_group.tasks.id
  description                  = "The application port, from the ALB only"
  referenced_security_group_id = var.load_balancer.security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

# Tasks pull images from ECR and send logs over HTTPS through the NAT gateways; AWS's
# endpoints have no fixed address range to narrow this to.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to ECR, CloudWatch Logs and other AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

locals {
  # A task whose app stops answering is replaced even between ALB checks. The key is absent
  # rather than `null` when unset, so the registered definition matches what is rendered.
  container_health_check = {
    for key, check in {
      healthCheck = {
        command     = var.health_check_command
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 10
      }
    } : key => check if var.health_check_command != null
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = [var.launch_type]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  container_definitions = jsonencode(concat([
    merge(local.container_health_check, {
      name                   = var.container_name
      image                  = var.image
      essential              = true
      readonlyRootFilesystem = true
      user                   = "65532:65532"
      portMappings           = [{ containerPort = var.container_port, protocol = "tcp" }]
      environment = [
        for name, value in merge(var.environment, { PORT = tostring(var.container_port) }) :
        { name = name, value = value }
      ]
      # ECS sends SIGTERM and waits this long before SIGKILL; the app drains within it.
      stopTimeout = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = var.container_name
        }
      }
    })
  ], var.sidecars))

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.min_capacity
  launch_type                        = var.launch_type
  platform_version                   = var.launch_type == "FARGATE" ? "LATEST" : null
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = local.has_load_balancer ? 30 : null
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  # A rollout whose tasks don't become healthy stops and returns to the last good revision;
  # ECS reports it, and Slipway's deployment-events function tells people.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_controller {
    type = "ECS"
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = local.has_load_balancer ? [1] : []
    content {
      target_group_arn = var.load_balancer.target_group_arn
      container_name   = var.container_name
      container_port   = var.container_port
    }
  }

  dynamic "ordered_placement_strategy" {
    for_each = local.placement_strategy
    content {
      type  = ordered_placement_strategy.value.type
      field = ordered_placement_strategy.value.field
    }
  }

  lifecycle {
    # Slipway registers and rolls new revisions; auto-scaling owns the count. Without
    # this, every `terraform apply` would put the service back on Terraform's revision.
    # Slipway also sends a progressive target's rollout with every UpdateService (the
    # strategy, which this provider cannot express, the alarms, and the load balancer's
    # advanced configuration): Terraform sets the circuit breaker, alarms and load
    # balancer at creation only, and changing them later is Slipway's `rollout` or a
    # replacement of the service.
    ignore_changes = [task_definition, desired_count, load_balancer, alarms, deployment_circuit_breaker]
  }

  tags = var.tags
}

resource "aws_appautoscaling_target" "this" {
  count = var.autoscaling ? 1 : 0

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity

  tags = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  count = var.autoscaling ? 1 : 0

  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.cpu_target_percent
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "memory" {
  count = var.autoscaling ? 1 : 0

  name               = "${var.name}-memory"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.memory_target_percent
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}
