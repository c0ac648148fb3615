# The configuration the alicloud provider was run with against Keyport
# (see the issue's closing note). Keyport serves plain HTTP on loopback, so
# protocol = "HTTP"; account_type skips the BssOpenApi call the provider
# otherwise sends to the cloud at start-up. Variables: TF_VAR_access_key,
# TF_VAR_secret_key, TF_VAR_endpoint (127.0.0.1:PORT), and TF_VAR_policy
# for the keys' policy (a key policy in RAM's language, naming users as
# acs:ram::ACCOUNT:user/NAME). Apply, change, apply again, destroy.
variable "access_key" {}
variable "secret_key" { sensitive = true }
variable "endpoint" {}
variable "description" { default = "terraform key" }
variable "status" { default = "Enabled" }
variable "policy" { default = null }

terraform {
  required_providers {
    alicloud = { source = "aliyun/alicloud" }
  }
}

provider "alicloud" {
  access_key             = var.access_key
  secret_key             = var.secret_key
  region                 = "cn-hangzhou"
  account_type           = "Domestic"
  skip_region_validation = true
  protocol               = "HTTP"
  endpoints {
    kms = var.endpoint
  }
}

resource "alicloud_kms_key" "app" {
  count                  = 3
  description            = var.description
  protection_level       = "HSM"
  status                 = var.status
  pending_window_in_days = 7
  policy                 = var.policy
  tags                   = { env = "test", index = tostring(count.index) }
}

# Asymmetric keys (issue 24): an HSM-level signing key and a decryption key.
resource "alicloud_kms_key" "signer" {
  description            = var.description
  key_spec               = "EC_P256"
  key_usage              = "SIGN/VERIFY"
  protection_level       = "HSM"
  status                 = var.status
  pending_window_in_days = 7
}

resource "alicloud_kms_key" "decrypter" {
  description            = var.description
  key_spec               = "RSA_3072"
  key_usage              = "ENCRYPT/DECRYPT"
  pending_window_in_days = 7
}

resource "alicloud_kms_alias" "app" {
  count      = 3
  alias_name = "alias/tf-app-${count.index}"
  key_id     = alicloud_kms_key.app[count.index].id
}

data "alicloud_kms_keys" "all" {
  depends_on = [alicloud_kms_key.app, alicloud_kms_key.signer, alicloud_kms_key.decrypter]
}

output "listed" {
  value = length(data.alicloud_kms_keys.all.ids)
}
