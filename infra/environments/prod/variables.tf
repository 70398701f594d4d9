variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "availability_zones" {
  description = "Two availability zones of the region."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "domain_name" {
  description = "The name the service answers to (the ALB's certificate is issued for it)."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone of domain_name, for certificate validation and the alias record (null: do both by hand)."
  type        = string
  default     = null
}

variable "initial_image" {
  description = "The image of the service's first task definition; Slipway deploys every later one."
  type        = string
}

variable "launch_type" {
  description = "FARGATE, or EC2 for container instances you run (where the placement strategy applies)."
  type        = string
  default     = "FARGATE"
}

variable "package_dir" {
  description = "Where `make package` put the function zips."
  type        = string
  default     = "../../../target/lambda"
}

variable "approver_emails" {
  description = "Who receives approval requests and outcomes by email."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "The GitHub repository (owner/name) whose workflows push the app's images and upload manifests."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false when another stack in the account has it)."
  type        = bool
  default     = true
}

variable "github_oidc_provider_arn" {
  description = "The account's existing GitHub OIDC provider, when create_github_oidc_provider is false."
  type        = string
  default     = null
}

variable "operator_principals" {
  description = "IAM principal ARNs (wildcards allowed) that may send operator requests (rollback, unfreeze) to Slipway's operator bus; nobody else can."
  type        = list(string)
  default     = []
}

variable "dev_account_id" {
  description = "dev's AWS account, whose builds ECR replicates into prod's `app` repository (dev's prod_account_id names this account): prod releases only what dev ran."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.dev_account_id))
    error_message = "dev_account_id is a 12-digit account id."
  }
}

variable "promotion_soak" {
  description = "How long a digest must have run on dev's web, after it succeeded there, before prod's Slipway deploys it (e.g. 1h; 0s: as soon as it succeeded)."
  type        = string
  default     = "1h"
}

variable "migration" {
  description = "A migration every release of web runs first, in the new revision's app container, which must exit 0 before web rolls (command, timeout such as \"15m\"); null: web rolls on its own."
  type = object({
    command = list(string)
    timeout = optional(string, "15m")
  })
  default = null
}
