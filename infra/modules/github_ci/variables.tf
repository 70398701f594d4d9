variable "name" {
  description = "The role's name, e.g. `shop-dev-github-ci`."
  type        = string
}

variable "github_repository" {
  description = "The one GitHub repository whose workflows may assume the role, as `owner/name`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "Give the repository as owner/name, e.g. acme/shop: no wildcards, no URL."
  }
}

variable "allowed_refs" {
  description = "Which of the repository's workflow runs may assume the role: the part of the OIDC `sub` claim after `repo:<owner>/<name>:`, e.g. `ref:refs/heads/main` or `ref:refs/tags/v*`."
  type        = list(string)

  validation {
    condition     = length(var.allowed_refs) > 0 && alltrue([for ref in var.allowed_refs : can(regex("^(ref:refs/(heads|tags)/|environment:).+", ref)) && ref != "ref:refs/heads/*"])
    error_message = "Name branches (ref:refs/heads/main), tags (ref:refs/tags/v*) or environments (environment:prod); `*` alone would let any branch push."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider. An account has at most one per URL: set false and pass `oidc_provider_arn` when another stack owns it."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "The existing GitHub OIDC provider's ARN, when `create_oidc_provider` is false."
  type        = string
  default     = null
}

variable "ecr_repository_arn" {
  description = "The app's ECR repository: the only one the role may push to."
  type        = string
}

variable "retag_only" {
  description = "The role may only tag images already in the repository (builds replicated from the environment that tested them), never push new bytes: prod, which releases what dev ran."
  type        = bool
  default     = false
}

variable "source_bucket_arn" {
  description = "Slipway's source bucket (null: no manifest uploads)."
  type        = string
  default     = null
}

variable "deploy_prefix" {
  description = "The source bucket prefix Slipway deploys from; the role may write there and nowhere else."
  type        = string
  default     = "deploy/"

  validation {
    condition     = can(regex("^[^*]+/$", var.deploy_prefix))
    error_message = "The prefix ends with / and has no wildcard, e.g. deploy/."
  }
}

variable "source_bucket_kms_key_arn" {
  description = "The source bucket's KMS key (uploads encrypt with it); null when the bucket uses SSE-S3."
  type        = string
  default     = null
}

variable "max_session_hours" {
  description = "How long the workflow's credentials last."
  type        = number
  default     = 1

  validation {
    condition     = var.max_session_hours >= 1 && var.max_session_hours <= 12 && floor(var.max_session_hours) == var.max_session_hours
    error_message = "IAM allows whole hours from 1 to 12."
  }
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}
