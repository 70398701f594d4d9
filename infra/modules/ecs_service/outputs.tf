output "service_name" {
  description = "The service's name."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "The service's ARN (Slipway's IAM scope and ECS event filter)."
  value       = aws_ecs_service.this.id
}

output "task_definition_family" {
  description = "The task definition family Slipway registers new revisions in."
  value       = aws_ecs_task_definition.this.family
}

output "task_role_arn" {
  description = "The task role (Slipway may pass it to ECS when it registers a revision)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "The execution role (Slipway may pass it to ECS when it registers a revision)."
  value       = aws_iam_role.execution.arn
}

output "security_group_id" {
  description = "The tasks' security group."
  value       = aws_security_group.tasks.id
}

output "placement_strategy" {
  description = "The ordered placement strategy in effect (empty on Fargate)."
  value       = local.placement_strategy
}

output "autoscaling" {
  description = "Capacity bounds: min and max tasks (equal without auto-scaling)."
  value       = { min = var.min_capacity, max = var.autoscaling ? var.max_capacity : var.min_capacity }
}

output "infrastructure_role_arn" {
  description = "With progressive: ECS's infrastructure role for the load balancer, for the target's `rollout.load_balancer.role_arn` (null otherwise)."
  value       = var.progressive ? aws_iam_role.infrastructure[0].arn : null
}
