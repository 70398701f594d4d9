variable "name" {
  description = "Name prefix for every resource, e.g. `slipway-prod`. Bucket names add the account id to be globally unique."
  type        = string
}

variable "environment" {
  description = "Environment name (dev, prod, local); shown in resource names and tags."
  type        = string
}

variable "package_dir" {
  description = "Folder holding `<function>/bootstrap.zip` for each function, as `make package` writes it (target/lambda)."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture the zips were built for: arm64 (`make package`, the default) or x86_64 (`make package ARCH=x86_64`)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Memory of each function; CPU (and TLS handshake speed on cold start) scales with it."
  type        = number
  default     = 256
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per event-driven function (null: unreserved). New accounts with a concurrency quota of 10 cannot reserve any."
  type        = number
  default     = null
}

variable "targets" {
  description = <<-EOT
    What Slipway deploys: one object per target, rendered into the functions' config with
    jsonencode (README, "Targets"). `task_role_arn` and `execution_role_arn` are not part of
    the config: they are the roles Slipway may pass to ECS when it registers a revision.
  EOT
  type = list(object({
    name       = string
    cluster    = string
    service    = string
    containers = list(string)
    repository = string
    tags = object({
      exact  = optional(string)
      glob   = optional(string)
      semver = optional(string)
    })
    policy = string
    approval = optional(object({
      expires_after_hours = optional(number)
      slack_channel       = optional(string)
      slack_approvers     = optional(list(string), [])
      iam_approvers       = optional(list(string), [])
    }))
    notifications = optional(object({
      slack_channel = optional(string)
    }))
    freeze_after_failure = optional(string, "until-newer-image")
    # ECS's own progressive deployments (README, "Progressive delivery"): Slipway sends
    # them with every UpdateService, since this provider cannot express them.
    rollout = optional(object({
      strategy = optional(string, "rolling")
      canary = optional(object({
        percent      = optional(number)
        bake_minutes = optional(number)
      }))
      linear = optional(object({
        step_percent      = optional(number)
        step_bake_minutes = optional(number)
      }))
      bake_minutes = optional(number)
      alarms       = optional(list(string), [])
      approval_at  = optional(string)
      # With approval_at = "pre-production-traffic" on a canary or linear rollout: a
      # request at every step instead of the first only.
      ask_each_step = optional(bool)
      load_balancer = optional(object({
        target_group_arn           = string
        container_name             = string
        container_port             = number
        alternate_target_group_arn = string
        production_listener_rule   = string
        test_listener_rule         = optional(string)
        role_arn                   = string
        test_url                   = optional(string)
      }))
      service_connect = optional(bool, false)
      # Slipway's Lambda hook GETs test_url + path after test traffic moved: every answer
      # for for_seconds must be `status`, or ECS rolls back (README, "Progressive delivery").
      test_probe = optional(object({
        path          = optional(string)
        status        = optional(number)
        for_seconds   = optional(number)
        every_seconds = optional(number)
      }))
    }))
    # When the target may roll: weekly local spans ("FR 16:00 -> MO 08:00") in an IANA
    # time zone; deny beats allow (README, "Deployment windows"). Rollbacks are never held.
    windows = optional(object({
      time_zone = string
      allow     = optional(list(string), [])
      deny      = optional(list(string), [])
    }))
    # Take only digests that succeeded on the `from` targets, ran there for `soak` (e.g.
    # "2h") and kept the `alarms_ok` metric alarms out of ALARM meanwhile (README,
    # "Promotion, windows and release groups").
    promotion = optional(object({
      from         = list(string)
      availability = optional(string)
      soak         = optional(string)
      alarms_ok    = optional(list(string), [])
    }))
    # The task-definition family the service runs; Slipway may register only in it.
    # Defaults to the service's name (as infra/modules/ecs_service names it).
    task_family        = optional(string)
    task_role_arn      = optional(string)
    execution_role_arn = optional(string)
  }))

  validation {
    condition     = length(var.targets) > 0
    error_message = "Give at least one target."
  }

  # The functions check a rollout against ECS's rules at cold start; the choices that a
  # typo breaks are checked here, before anything is applied.
  validation {
    condition     = alltrue([for t in var.targets : contains(["rolling", "blue-green", "canary", "linear"], try(t.rollout.strategy, "rolling"))])
    error_message = "rollout.strategy is one of rolling, blue-green, canary, linear."
  }

  validation {
    condition     = alltrue([for t in var.targets : contains(["before", "pre-scale-up", "post-scale-up", "post-test-traffic", "pre-production-traffic", "post-production-traffic"], coalesce(try(t.rollout.approval_at, null), "before"))])
    error_message = "rollout.approval_at is before, pre-scale-up, post-scale-up, post-test-traffic, pre-production-traffic or post-production-traffic (ECS cannot pause at the traffic shifts; reconcile-service may never come)."
  }

  # The functions refuse these at cold start too; here they fail the plan, not every function.
  validation {
    condition = alltrue([for t in var.targets : (
      contains(["blue-green", "canary", "linear"], t.rollout.strategy)
      && try(t.rollout.load_balancer.test_url, null) != null
      && try(t.rollout.load_balancer.test_listener_rule, null) != null
      # Unset, the functions' defaults (60 and 10) apply.
      && coalesce(t.rollout.test_probe.for_seconds, 60) >= 10 && coalesce(t.rollout.test_probe.for_seconds, 60) <= 3600
      && coalesce(t.rollout.test_probe.every_seconds, 10) >= 5 && coalesce(t.rollout.test_probe.every_seconds, 10) <= 300
    ) if try(t.rollout.test_probe, null) != null])
    error_message = "rollout.test_probe needs a blue-green, canary or linear strategy and a load_balancer with test_url and test_listener_rule; for_seconds is 10 to 3600, every_seconds 5 to 300."
  }

  # The functions refuse these at cold start too; here they fail the plan.
  validation {
    condition = alltrue([for t in var.targets : (
      length(t.promotion.from) > 0
      && alltrue([for up in t.promotion.from : up != t.name && contains(concat([for other in var.targets : other.name], [for u in var.upstreams : u.name]), up)])
      && contains(["one-of", "all"], coalesce(t.promotion.availability, "one-of"))
    ) if t.promotion != null])
    error_message = "promotion.from names other targets of this module or `upstreams` (at least one), and availability is one-of or all."
  }

  # The functions check the zone and that the windows ever open; a span's shape is
  # checked here too, so that a typo fails the plan, not every function's cold start.
  validation {
    condition = alltrue([for t in var.targets : (
      length(concat(t.windows.allow, t.windows.deny)) > 0
      && alltrue([for span in concat(t.windows.allow, t.windows.deny) :
      can(regex("^(?i)(MO|TU|WE|TH|FR|SA|SU) ([01][0-9]|2[0-3]):[0-5][0-9] *(->|→) *(MO|TU|WE|TH|FR|SA|SU) ([01][0-9]|2[0-3]):[0-5][0-9]$", trimspace(span)))])
    ) if t.windows != null])
    error_message = "windows needs at least one allow or deny span, each `DAY HH:MM -> DAY HH:MM` (MO … SU, 00:00 to 23:59), e.g. `FR 16:00 -> MO 08:00`."
  }

  validation {
    condition     = alltrue([for t in var.targets : contains(["auto", "approval"], t.policy)])
    error_message = "Each target's policy must be `auto` or `approval`."
  }

  validation {
    condition     = alltrue([for t in var.targets : length([for rule in values(t.tags) : rule if rule != null]) == 1])
    error_message = "Each target's tags must set exactly one of exact, glob or semver."
  }

  validation {
    condition     = alltrue([for t in var.targets : contains(["until-newer-image", "until-unfrozen", "never"], t.freeze_after_failure)])
    error_message = "freeze_after_failure must be until-newer-image, until-unfrozen or never."
  }

  validation {
    condition     = length(distinct([for t in var.targets : t.name])) == length(var.targets)
    error_message = "Target names must be unique."
  }

  # A cluster ARN is arn:<partition>:ecs:<region>:<account>:cluster/<name>.
  validation {
    condition = alltrue([
      for t in var.targets : !startswith(t.cluster, "arn:") || can(regex("^arn:[a-z-]+:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", t.cluster))
    ])
    error_message = "A target's cluster must be the cluster's name or its ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }

  # Services created before 2021 may still have the short ARN service/<name>: ECS names
  # them so in its events and IAM evaluates them so, and neither the event rule nor the
  # policies (which use service/<cluster>/<name>) would match (ECS Developer Guide,
  # "Migrate an Amazon ECS short service ARN to a long ARN").
  validation {
    condition = alltrue([
      for t in var.targets : !startswith(t.service, "arn:") || can(regex("^arn:[a-z-]+:ecs:[a-z0-9-]+:[0-9]{12}:service/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$", t.service))
    ])
    error_message = "A target's service ARN must have the long format arn:aws:ecs:<region>:<account>:service/<cluster>/<service>: a short ARN (service/<service>) belongs to a service created before 2021, which ECS's events and IAM name differently. Migrate the service to the long ARN format (ECS Developer Guide, \"Migrate an Amazon ECS short service ARN to a long ARN\") or give its name."
  }

  validation {
    condition = alltrue([
      for t in var.targets : !startswith(t.service, "arn:") || (
        element(split("/", t.service), 1) == (startswith(t.cluster, "arn:") ? element(split("/", t.cluster), 1) : t.cluster)
      )
    ])
    error_message = "A target's service ARN names another cluster than the target's cluster."
  }
}

variable "groups" {
  description = <<-EOT
    Release groups (README, "Release groups"): ordered steps rolled as one release — a
    one-off task of a target's new revision whose container must exit 0 (a migration),
    then services. Each step sets exactly one of `task` or `service`; the targets are
    targets of this module. A push every target of a group takes starts the group's run.
  EOT
  type = list(object({
    name       = string
    on_failure = optional(string, "stop")
    steps = list(object({
      task = optional(object({
        name      = string
        target    = string
        container = string
        command   = list(string)
        timeout   = string
      }))
      service = optional(string)
    }))
  }))
  default = []

  # The functions check the rest at cold start (the task's container is one the release
  # replaces, a service in one group only, the timeout's range); these fail the plan.
  validation {
    condition = alltrue([for g in var.groups : (
      can(regex("^[A-Za-z0-9_-]{1,64}$", g.name))
      && contains(["stop", "rollback-completed"], g.on_failure)
      && length(g.steps) > 0
      && alltrue([for s in g.steps : (s.task == null) != (s.service == null)])
      && alltrue([for s in g.steps : contains([for t in var.targets : t.name], s.task != null ? s.task.target : s.service)])
    )])
    error_message = "Each group has a name of letters, digits, - and _ (up to 64), on_failure stop or rollback-completed, and steps that each set exactly one of task or service, naming targets of this module."
  }

  validation {
    condition     = length(distinct([for g in var.groups : g.name])) == length(var.groups)
    error_message = "Group names must be unique."
  }
}

variable "source_prefix" {
  description = "Key prefix of deploy manifests in the source bucket (`<prefix><target>/imagedefinitions.json`)."
  type        = string
  default     = "deploy/"
}

variable "approver_emails" {
  description = "Email addresses subscribed to the approvals topic (each confirms the subscription by mail)."
  type        = list(string)
  default     = []
}

variable "slack_enabled" {
  description = "Create the Slack secret and hand it to the functions (needed when a target names a Slack channel)."
  type        = bool
  default     = false
}

variable "slack_api_url" {
  description = "Slack Web API base URL (null: https://slack.com/api)."
  type        = string
  default     = null
}

variable "max_event_age_seconds" {
  description = "Events older than this are not retried but sent to the function's dead-letter queue."
  type        = number
  default     = 3600
}

variable "max_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (Lambda allows 0-2) before the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = var.max_retry_attempts >= 0 && var.max_retry_attempts <= 2
    error_message = "Lambda retries an asynchronous invocation 0, 1 or 2 times."
  }
}

variable "log_retention_days" {
  description = "How long the functions' logs are kept."
  type        = number
  default     = 365
}

variable "noncurrent_version_days" {
  description = "Days an overwritten object version is kept in both buckets (the ledger's history of each head and record; earlier uploads of a manifest)."
  type        = number
  default     = 90
}

variable "dry_run" {
  description = "Plan and log, write nothing to ECS (a first week in a new account)."
  type        = bool
  default     = false
}

variable "require_tls" {
  description = "Deny any request to the buckets that does not use TLS (off only for the local AWS, which speaks plain HTTP on loopback and enforces bucket policies)."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete non-empty buckets (local and throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}

variable "approval_throttle" {
  description = "Throttling of the approval HTTP API's stage: requests per second and the burst above it (API Gateway answers 429 beyond them)."
  type = object({
    rate_per_second = number
    burst           = number
  })
  default = {
    rate_per_second = 20
    burst           = 50
  }
}

variable "operator_principals" {
  description = "IAM principal ARNs (wildcards allowed, e.g. arn:aws:iam::111122223333:role/platform-*) that may send operator requests (rollback, unfreeze) to the operator event bus; everyone else is denied by the bus policy. Empty: nobody (invoke deployment-events directly)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.operator_principals : startswith(p, "arn:")])
    error_message = "operator_principals are IAM principal ARNs (arn:aws:iam::<account>:role/<name>, …)."
  }
}

variable "reconcile_schedule" {
  description = "How often the reconciler runs (an EventBridge schedule expression): the longest a lost ECS outcome or ECR push goes unnoticed."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\(.+\\)|cron\\(.+\\))$", var.reconcile_schedule))
    error_message = "reconcile_schedule is an EventBridge schedule expression: rate(5 minutes) or cron(...)."
  }
}

variable "archive_retention_days" {
  description = "How long the archive of the events that wake Slipway keeps them, for `slipway replay` (0 keeps them indefinitely)."
  type        = number
  default     = 14

  validation {
    condition     = var.archive_retention_days >= 0
    error_message = "archive_retention_days must be 0 (indefinitely) or more."
  }
}

variable "test_probe_network" {
  description = "Where the test-probe function runs: private subnets whose route to the internet is a NAT gateway, and security groups that let it reach the test listener. A target's test listener is open only to the VPC and the NAT gateways' addresses (infra/modules/alb test_cidrs), so a probe outside the VPC would be refused. Null: outside any VPC (only for a test listener Lambda can reach from the internet)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "upstreams" {
  description = <<-EOT
    Targets of Slipways in other accounts (dev's, say) that targets here promote from: `promotion.from` names each by `name` (README, "Promotion across accounts"). The gate reads that Slipway's ledger record of the digest, read-only: its ledger bucket (in this region), the `target`'s records only, decrypted with that Slipway's key through S3 (its key policy grants it: `promoted_elsewhere` there). `tags` is the tag rule that target deploys: a replicated build here under such a tag is on its way there. `hint_forwarder_role_arn` is the role that Slipway forwards its hints with (its output hint_forwarder_role_arn): admitted to this Slipway's promotion bus, and no other principal of that account.
  EOT
  type = list(object({
    name                    = string
    account_id              = string
    ledger_bucket           = string
    target                  = string
    tags                    = object({ exact = optional(string), glob = optional(string), semver = optional(string) })
    hint_forwarder_role_arn = optional(string)
  }))
  default = []

  validation {
    condition = alltrue([for u in var.upstreams : (
      can(regex("^[a-z0-9-]{1,64}$", u.name)) && can(regex("^[0-9]{12}$", u.account_id))
      && can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", u.ledger_bucket)) && can(regex("^[a-z0-9-]{1,64}$", u.target))
      && length([for kind, rule in u.tags : kind if rule != null]) == 1
      && (u.hint_forwarder_role_arn == null || startswith(coalesce(u.hint_forwarder_role_arn, "-"), "arn:"))
    )]) && length(distinct([for u in var.upstreams : u.name])) == length(var.upstreams)
    error_message = "Each upstream has a unique name (a-z, 0-9, -), a 12-digit account_id, its ledger bucket's name, its target's name, one tag rule (exact, glob or semver) and, optionally, the ARN of the role its hints come with."
  }
}

variable "promoted_elsewhere" {
  description = <<-EOT
    Targets of this module that Slipways in other accounts promote from (prod's, say): their ledger records are readable by `readers` (role ARNs of that account, wildcards allowed, e.g. arn:aws:iam::444455556666:role/slipway-prod-*) through the ledger bucket's policy and the key's, and, with `hint_bus_arn` (that Slipway's promotion bus), each success of the target is forwarded there at once (README, "Promotion across accounts").
  EOT
  type = list(object({
    target       = string
    account_id   = string
    readers      = list(string)
    hint_bus_arn = optional(string)
  }))
  default = []

  validation {
    condition = alltrue([for p in var.promoted_elsewhere : (
      contains([for t in var.targets : t.name], p.target) && can(regex("^[0-9]{12}$", p.account_id))
      && length(p.readers) > 0 && alltrue([for r in p.readers : startswith(r, "arn:") && strcontains(r, ":${p.account_id}:role/")])
      && (p.hint_bus_arn == null || can(regex("^arn:[a-z-]+:events:[a-z0-9-]+:${p.account_id}:event-bus/.+$", coalesce(p.hint_bus_arn, "-"))))
    )])
    error_message = "Each entry names a target of this module, the downstream's 12-digit account_id, readers that are role ARNs of that account, and optionally that account's event bus ARN (hint_bus_arn)."
  }
}
