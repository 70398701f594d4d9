variable "project" {
  description = "The Project tag of every resource."
  type        = string
  default     = "shop"
}

variable "environment" {
  description = "The environment's name (dev, prod): the Environment tag and Slipway's name, slipway-<environment>."
  type        = string
}

variable "name" {
  description = "Prefix of the platform's resource names, e.g. shop-dev."
  type        = string
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both zones (cheaper) instead of one per zone (survives the loss of a zone)."
  type        = bool
}

variable "keep_tagged_images" {
  description = "Tagged images ECR keeps, the newest first: a rollback can only go to one still there."
  type        = number
}

variable "deletion_protection" {
  description = "Whether the ALB refuses deletion."
  type        = bool
}

variable "web" {
  description = "The web service's size and placement: task cpu/memory, the autoscaling range, the EC2 placement strategy (binpack or spread), the Fargate Spot share."
  type = object({
    cpu                 = optional(number, 256)
    memory              = optional(number, 512)
    min_capacity        = number
    max_capacity        = number
    placement           = string
    fargate_spot_weight = optional(number, 0)
  })
}

variable "deploy" {
  description = "How Slipway deploys web here: the tag rule (glob or semver), the policy (auto or approval) and, for approval, when a request expires."
  type = object({
    tags   = object({ exact = optional(string), glob = optional(string), semver = optional(string) })
    policy = string
    approval = optional(object({
      expires_after_hours = optional(number)
      slack_channel       = optional(string)
      slack_approvers     = optional(list(string), [])
      iam_approvers       = optional(list(string), [])
    }))
  })
}

variable "ci_refs" {
  description = "The git refs whose workflows may push and upload for this environment (e.g. ref:refs/heads/main, ref:refs/tags/v*)."
  type        = list(string)
}

variable "images" {
  description = <<-EOT
    Where the app's images come from. An environment that builds (dev) may copy every build to the environments that release it (`replicate_to`: prod's account and region). An environment that releases what another tested (prod) names that environment's account (`from_accounts`): its registry admits the copies, its CI role may only tag images already there (a release tag names the digest dev ran, never a new build), and it keeps the newest releases (`release_tags`) while unreleased copies expire.
  EOT
  type = object({
    replicate_to = optional(list(object({
      account_id = string
      region     = string
    })), [])
    from_accounts = optional(list(string), [])
    release_tags  = optional(list(string), ["v*"])
  })
  default = {}
}

variable "promotion" {
  description = <<-EOT
    Promotion across accounts between the environments' Slipways (README, "Promotion across accounts"). `from` (prod): web deploys only a digest that succeeded on `environment`'s web (dev's Slipway in `account_id`, this region) and ran there for `soak`; `tags` is the tag rule dev's web deploys. `to` (dev): `environment`'s Slipway in `account_id` may read web's ledger records and is told of each success at once. Both sides' names are Slipway's (`slipway-<environment>`), so neither needs the other's outputs.
  EOT
  type = object({
    from = optional(object({
      environment = string
      account_id  = string
      tags        = optional(object({ exact = optional(string), glob = optional(string), semver = optional(string) }), { glob = "*" })
      soak        = optional(string, "1h")
    }))
    to = optional(object({
      environment = string
      account_id  = string
    }))
  })
  default = {}
}

variable "region" {
  description = "AWS region of the environment (the provider's; CI reads it from the github_actions output)."
  type        = string
}

variable "availability_zones" {
  description = "Two availability zones of the region."
  type        = list(string)
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

variable "migration" {
  description = <<-EOT
    A one-off task every release of web runs first (a schema migration): `command` in the
    new revision's `app` container, which must exit 0 within `timeout` before web rolls;
    the release is then one release group, `web`, under one approval (README, "Release
    groups"). The migration must suit the web still running (expand/contract: nothing
    rolls a migration back). null: web rolls on its own.
  EOT
  type = object({
    command = list(string)
    timeout = optional(string, "15m")
  })
  default = null

  validation {
    condition     = var.migration == null || try(length(var.migration.command) > 0, false)
    error_message = "The migration's command names at least the program to run."
  }

  validation {
    condition     = var.migration == null || can(regex("^[0-9][0-9a-z ]*[a-z]$", var.migration.timeout))
    error_message = "The migration's timeout is a duration such as 15m or 1h 30m (1 minute to 24 hours)."
  }
}
