# Slipway itself: four functions, the events that wake them, their dead-letter queues, the
# buckets, the approvals topic, the secrets and one KMS key for all of it.
#
#   main.tf       names, the rendered targets config, the KMS key
#   storage.tf    the ledger and source buckets
#   functions.tf  the Lambda functions, their roles (one each, least privilege), logs
#   approval_api.tf  the approval function's public endpoint (API Gateway HTTP API)
#   events.tf     EventBridge rules, retries, dead-letter queues, the approvals topic, secrets
#   operator.tf   the settings the operator's command line reads (an SSM parameter)

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # The config document the functions read (the config object), in the shape src/input/config.rs
  # parses: unset optional fields are left out, and the IAM-only fields are not part of it.
  targets_config = {
    targets = [
      for t in var.targets : merge(
        {
          name       = t.name
          cluster    = t.cluster
          service    = t.service
          containers = t.containers
          repository = t.repository
          tags       = { for kind, rule in t.tags : kind => rule if rule != null }
          policy     = t.policy
        },
        t.approval == null ? {} : {
          approval = { for k, v in t.approval : k => v if v != null && try(length(v) > 0, true) }
        },
        t.notifications == null ? {} : {
          notifications = { for k, v in t.notifications : k => v if v != null }
        },
        { freeze_after_failure = t.freeze_after_failure },
        t.rollout == null ? {} : {
          rollout = merge(
            { for k, v in t.rollout : k => v if v != null && !contains(["canary", "linear", "load_balancer", "test_probe"], k) },
            t.rollout.canary == null ? {} : { canary = { for k, v in t.rollout.canary : k => v if v != null } },
            t.rollout.linear == null ? {} : { linear = { for k, v in t.rollout.linear : k => v if v != null } },
            t.rollout.load_balancer == null ? {} : { load_balancer = { for k, v in t.rollout.load_balancer : k => v if v != null } },
            # The probe runs in Slipway's own function, invoked by ECS with Slipway's role.
            t.rollout.test_probe == null ? {} : { test_probe = merge(
              { for k, v in t.rollout.test_probe : k => v if v != null },
              { function_arn = local.test_probe_function_arn, role_arn = aws_iam_role.ecs_hooks.arn },
            ) },
          )
        },
        t.windows == null ? {} : { windows = t.windows },
        t.promotion == null ? {} : { promotion = { for k, v in t.promotion : k => v if v != null } },
        { task_family = local.task_families[t.name] },
      )
    ]
  }
  # Release groups, when there are any (src/input/config/groups.rs parses them).
  config = merge(local.targets_config, length(var.groups) == 0 ? {} : {
    groups = [
      for g in var.groups : {
        name       = g.name
        on_failure = g.on_failure
        steps      = [for s in g.steps : merge(s.task == null ? {} : { task = s.task }, s.service == null ? {} : { service = s.service })]
      }
    ]
  })
  # Promotion across accounts: the other Slipways' targets this one promotes from, and
  # this one's targets others promote from (src/input/config/upstreams.rs).
  config_with_upstreams = merge(local.config,
    length(var.upstreams) == 0 ? {} : {
      upstreams = [for u in var.upstreams : {
        name          = u.name
        account       = u.account_id
        ledger_bucket = u.ledger_bucket
        target        = u.target
        tags          = { for kind, rule in u.tags : kind => rule if rule != null }
      }]
    },
    length(var.promoted_elsewhere) == 0 ? {} : {
      promoted_elsewhere = distinct([for p in var.promoted_elsewhere : p.target])
  })
  config_json = jsonencode(local.config_with_upstreams)
  config_key  = "config/targets.json"

  # A target may name its cluster and service by ARN (README, "Targets"); IAM resources
  # and event patterns need the names. Only the long service ARN format
  # (`service/<cluster>/<service>`) is accepted (variables.tf): ECS events and IAM name a
  # pre-2021 short-ARN service `service/<service>`, which nothing here would match.
  target_names = {
    for t in var.targets : t.name => {
      cluster = startswith(t.cluster, "arn:") ? element(split("/", t.cluster), length(split("/", t.cluster)) - 1) : t.cluster
      service = startswith(t.service, "arn:") ? element(split("/", t.service), length(split("/", t.service)) - 1) : t.service
    }
  }

  # What Slipway may touch, derived from the targets.
  promotion_alarm_arns = distinct(flatten([
    for t in var.targets : [
      for alarm in coalesce(try(t.promotion.alarms_ok, null), []) : "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${alarm}"
    ]
  ]))
  service_arns = distinct([
    for t in var.targets : "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${local.target_names[t.name].cluster}/${local.target_names[t.name].service}"
  ])
  task_families = {
    for t in var.targets : t.name => coalesce(t.task_family, local.target_names[t.name].service)
  }
  # Every revision of the targets' families: what RegisterTaskDefinition and TagResource
  # may create and UpdateService may roll onto (Service Authorization Reference, Amazon
  # ECS: the task-definition resource, `task-definition/<family>:<revision>`).
  task_definition_arns = distinct([
    for family in values(local.task_families) : "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${family}:*"
  ])
  repository_names = distinct([for t in var.targets : t.repository])
  repository_arns = [
    for name in local.repository_names : "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${name}"
  ]
  pass_role_arns = distinct(compact(flatten([
    for t in var.targets : [t.task_role_arn, t.execution_role_arn]
  ])))
  # The ECS infrastructure roles for load balancers that progressive targets' UpdateService
  # names (advancedConfiguration.roleArn): passing a role needs iam:PassRole.
  load_balancer_role_arns = distinct(compact([
    for t in var.targets : try(t.rollout.load_balancer.role_arn, null)
  ]))
  # Release groups: the targets their steps roll, and where their one-off tasks run.
  # RunTask's resource is the task definition, with the cluster in the `ecs:cluster`
  # condition key; StopTask's and DescribeTasks' is the task, `task/<cluster>/<id>`
  # (Service Authorization Reference, "Actions, resources, and condition keys for Amazon
  # Elastic Container Service").
  group_targets = distinct(flatten([
    for g in var.groups : [for s in g.steps : s.task != null ? s.task.target : s.service]
  ]))
  group_task_targets = distinct(flatten([
    for g in var.groups : [for s in g.steps : s.task.target if s.task != null]
  ]))
  group_task_definition_arns = distinct([
    for t in local.group_task_targets : "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${local.task_families[t]}:*"
  ])
  group_cluster_arns = distinct([
    for t in local.group_task_targets : "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${local.target_names[t].cluster}"
  ])
  group_task_arns = distinct([
    for t in local.group_task_targets : "arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.target_names[t].cluster}/*"
  ])
  # What ECS's pause hooks and DescribeServiceDeployments name (Service Authorization
  # Reference for Amazon ECS: service-deployment/<cluster>/<service>/<id>).
  service_deployment_arns = distinct([
    for t in var.targets : "arn:${local.partition}:ecs:${local.region}:${local.account}:service-deployment/${local.target_names[t.name].cluster}/${local.target_names[t.name].service}/*"
  ])
}

locals {
  # Promotion across accounts: a downstream Slipway's roles decrypt the ledger records
  # their bucket policy lets them read, through S3 only (promoted_elsewhere; AWS KMS
  # Developer Guide, "Allowing users in other accounts to use a KMS key", kms:ViaService).
  key_downstream_statements = [for i, p in var.promoted_elsewhere : {
    sid       = "DownstreamDecryptsLedger${i}"
    actions   = ["kms:Decrypt"]
    principal = "arn:${local.partition}:iam::${p.account_id}:root"
    readers   = p.readers
    via       = "s3.${local.region}.amazonaws.com"
  }]
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_111: in a key policy, resource "*" means this key only
  # checkov:skip=CKV_AWS_356: in a key policy, resource "*" means this key only
  # checkov:skip=CKV_AWS_109: the account administers its own key, as AWS's default key policy does
  # The account administers the key through IAM, as with any AWS-managed key.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  # CloudWatch Logs encrypts the functions' and the approval API's log groups, and only those.
  statement {
    sid       = "LogsEncryptSlipwayLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}-*",
        "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/apigateway/${var.name}-*",
      ]
    }
  }

  dynamic "statement" {
    for_each = local.key_downstream_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = [statement.value.principal]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:PrincipalArn"
        values   = statement.value.readers
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [statement.value.via]
      }
    }
  }

  # EventBridge puts undeliverable events into the encrypted dead-letter queues.
  statement {
    sid       = "EventBridgeWritesDeadLetters"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_kms_key" "this" {
  description         = "${var.name}: buckets, logs, queues, topic, secrets and function environment"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
