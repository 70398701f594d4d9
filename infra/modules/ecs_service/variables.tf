variable "name" {
  description = "The service's name; also the task definition family and the container's log group suffix."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the service runs in."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster (for the auto-scaling resource id)."
  type        = string
}

variable "image" {
  description = "The image the first task definition runs. Afterwards Slipway registers revisions pinned to pushed digests; Terraform does not roll the service back (see the README)."
  type        = string
}

variable "repository_arns" {
  description = "ECR repositories the service's images come from (the execution role may pull from these only)."
  type        = list(string)
}

variable "container_name" {
  description = "Name of the application container (the one Slipway's targets name in `containers`)."
  type        = string
  default     = "app"
}

variable "container_port" {
  description = "Port the application listens on (passed to it as PORT)."
  type        = number
  default     = 3000
}

variable "health_check_command" {
  description = "The container health check ECS runs inside the task (exec form), e.g. `[\"CMD\", \"/usr/local/bin/app\", \"healthcheck\"]` for the bundled app, whose image has no shell or curl. null: none (the ALB's check still applies)."
  type        = list(string)
  default     = null
}

variable "sidecars" {
  description = "Further container definitions (ECS JSON shape, e.g. a log router) run beside the application container. Slipway never changes them."
  type        = any
  default     = []
}

variable "cpu" {
  description = "Task CPU units (Fargate sizes: 256, 512, 1024, …)."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory in MiB (must suit the CPU size on Fargate)."
  type        = number
  default     = 512
}

variable "environment" {
  description = "Plain environment variables for the application container."
  type        = map(string)
  default     = {}
}

variable "min_capacity" {
  description = "Fewest running tasks (auto-scaling floor; also the initial desired count)."
  type        = number
  default     = 1
}

variable "max_capacity" {
  description = "Most running tasks (auto-scaling ceiling)."
  type        = number
  default     = 2

  validation {
    condition     = var.max_capacity >= 1
    error_message = "max_capacity must be at least 1."
  }
}

variable "autoscaling" {
  description = "Scale the task count on CPU and memory between min_capacity and max_capacity (off: a fixed min_capacity tasks)."
  type        = bool
  default     = true
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the service scales to hold."
  type        = number
  default     = 60
}

variable "memory_target_percent" {
  description = "Average memory utilisation the service scales to hold."
  type        = number
  default     = 70
}

variable "launch_type" {
  description = "FARGATE (default) or EC2. Placement strategies exist only on EC2; Fargate spreads tasks across the subnets' zones by itself."
  type        = string
  default     = "FARGATE"

  validation {
    condition     = contains(["FARGATE", "EC2"], var.launch_type)
    error_message = "launch_type must be FARGATE or EC2."
  }
}

variable "placement" {
  description = "Task placement on EC2: `binpack` (fewest instances, cheapest: dev) or `spread` (across availability zones, then instances: prod). Ignored on Fargate."
  type        = string
  default     = "spread"

  validation {
    condition     = contains(["binpack", "spread"], var.placement)
    error_message = "placement must be binpack or spread."
  }
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in (one per availability zone)."
  type        = list(string)
}

variable "vpc_id" {
  description = "The VPC of the subnets (for the tasks' security group)."
  type        = string
}

variable "load_balancer" {
  description = "The ALB in front of the service: its target group, and its security group (the only source allowed to reach the tasks). Null: no load balancer."
  type = object({
    target_group_arn  = string
    security_group_id = string
  })
  default = null
}

variable "log_retention_days" {
  description = "How long the application's logs are kept."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key that encrypts the application's log group (null: CloudWatch Logs' default encryption)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}

variable "progressive" {
  description = "The service rolls out with ECS's blue/green, canary or linear deployments (Slipway's `rollout`): creates ECS's infrastructure role for the load balancer, which Slipway passes in UpdateService."
  type        = bool
  default     = false
}
