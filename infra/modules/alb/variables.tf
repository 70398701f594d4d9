variable "name" {
  description = "Name prefix for the load balancer, its target group and security group (load balancer names: at most 32 characters)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets, one per availability zone (at least two)."
  type        = list(string)
}

variable "domain_name" {
  description = "The name the service answers to; an ACM certificate is issued for it (DNS validation)."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone for the certificate's validation record and the alias record (null: validate and point DNS yourself)."
  type        = string
  default     = null
}

variable "target_port" {
  description = "Port the tasks listen on."
  type        = number
  default     = 3000
}

variable "health_check_path" {
  description = "Path the target group checks; `/health` answers `true` with HTTP 200."
  type        = string
  default     = "/health"
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (on in prod, off in dev so it can be torn down)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for access logs (null: no access logs). The bucket policy must let ELB write to it."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}

variable "progressive" {
  description = "Create what ECS's blue/green, canary and linear deployments shift traffic with: an alternate target group, the production listener rule, a test listener and its rule, and a 5xx alarm on the new revision (README, \"Progressive delivery\")."
  type        = bool
  default     = false
}

variable "test_port" {
  description = "Port of the test listener (with progressive): where the new revision is served before production traffic moves."
  type        = number
  default     = 8443
}

variable "test_cidrs" {
  description = "Who may reach the test listener (with progressive); default: only inside the VPC."
  type        = list(string)
  default     = []
}
