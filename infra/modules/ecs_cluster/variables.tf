variable "name" {
  description = "The cluster's name."
  type        = string
}

variable "fargate_spot_weight" {
  description = "Share of tasks placed on Fargate Spot beside on-demand Fargate (0: none, e.g. prod)."
  type        = number
  default     = 0
}

variable "exec_log_kms_key_arn" {
  description = "KMS key that encrypts `ecs execute-command` sessions and their log group (null: no execute-command logging key)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "How long execute-command session logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}
