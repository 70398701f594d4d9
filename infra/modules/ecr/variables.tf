variable "name" {
  description = "The repository's name, e.g. `app`."
  type        = string
}

variable "keep_tagged_images" {
  description = "How many tagged images to keep (the newest); older ones expire. Rollbacks can only go to images still here."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_tagged_images >= 2
    error_message = "Keep at least 2 tagged images, or there is nothing to roll back to."
  }
}

variable "untagged_expire_days" {
  description = "Days after which untagged images (superseded layers of re-pushed tags, failed pushes) expire."
  type        = number
  default     = 1
}

variable "release_tags" {
  description = "Tag patterns of releases (e.g. [\"v*\"]) in a repository that also receives every build by replication: the newest `keep_tagged_images` releases are kept, and images tagged otherwise (builds never released) expire after `unreleased_expire_days`. Empty: the newest `keep_tagged_images` tagged images are kept, whatever their tags."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for pattern in var.release_tags : pattern != "*" && length(regexall("\\*", pattern)) <= 4])
    error_message = "A release pattern is a tag pattern other than `*` (with up to four wildcards, as ECR allows), e.g. v*."
  }
}

variable "unreleased_expire_days" {
  description = "With `release_tags`: days after which an image no release tag names expires."
  type        = number
  default     = 14

  validation {
    condition     = var.unreleased_expire_days >= 1
    error_message = "unreleased_expire_days must be at least 1."
  }
}

variable "replicate_to" {
  description = "Registries that receive a copy of every image pushed here (the same digest, the same tags), e.g. prod's account: [{account_id, region}]. Sets the registry's replication configuration, which is one per account and region."
  type = list(object({
    account_id = string
    region     = string
  }))
  default = []

  validation {
    condition     = alltrue([for destination in var.replicate_to : can(regex("^[0-9]{12}$", destination.account_id)) && can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", destination.region))])
    error_message = "Each destination is a 12-digit account id and a region name, e.g. {account_id = \"444455556666\", region = \"eu-west-1\"}."
  }
}

variable "replicate_from_accounts" {
  description = "Accounts whose registries replicate this repository into this one (e.g. dev's account, for prod). Sets the registry's policy, which is one per account and region."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for account in var.replicate_from_accounts : can(regex("^[0-9]{12}$", account))])
    error_message = "Give 12-digit account ids."
  }
}

variable "kms_key_arn" {
  description = "KMS key for image encryption at rest (null: the AWS-managed ECR key)."
  type        = string
  default     = null
}

variable "force_delete" {
  description = "Let `terraform destroy` delete the repository with its images (throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}
