variable "name" {
  description = "Name prefix for every resource, e.g. `shop-prod`."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's IPv4 range; split into one public and one private /20 (for a /16) per availability zone."
  type        = string
  default     = "10.0.0.0/16"
}

variable "availability_zones" {
  description = "The availability zones to span (at least two, for a highly available ALB and service)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Give at least two availability zones: an ALB needs subnets in two, and one zone is a single point of failure."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all private subnets (cheaper: dev) instead of one per availability zone (survives the loss of a zone: prod)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "How long VPC flow logs are kept in CloudWatch Logs."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key that encrypts the flow-log group (null: CloudWatch Logs' default encryption)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}
