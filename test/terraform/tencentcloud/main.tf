# The configuration the tencentcloud provider was run with against Keyport
# (see the issue's closing note): kms.keyport.test and tag.keyport.test
# resolve to the Keyport under test (/etc/hosts), which serves plain HTTP on
# loopback. Variables: TF_VAR_secret_id, TF_VAR_secret_key, TF_VAR_domain
# (keyport.test:PORT). Apply, change, apply again, destroy.
variable "secret_id" {}
variable "secret_key" { sensitive = true }
variable "domain" {}
variable "description" { default = "terraform key" }
variable "enabled" { default = true }

terraform {
  required_providers {
    tencentcloud = { source = "tencentcloudstack/tencentcloud" }
  }
}

provider "tencentcloud" {
  secret_id  = var.secret_id
  secret_key = var.secret_key
  region     = "ap-guangzhou"
  domain     = var.domain
  protocol   = "HTTP"
}

resource "tencentcloud_kms_key" "app" {
  count                         = 3 # several keys, so the provider calls in parallel
  alias                         = "tf-app-${count.index}"
  description                   = var.description
  key_usage                     = "ENCRYPT_DECRYPT"
  is_enabled                    = var.enabled
  key_rotation_enabled          = true
  pending_delete_window_in_days = 7
  tags                          = { env = "test", index = tostring(count.index) }
}

resource "tencentcloud_kms_external_key" "byok" {
  alias                         = "tf-byok"
  description                   = var.description
  wrapping_algorithm            = "RSAES_OAEP_SHA_256"
  key_material_base64           = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" # 32 bytes of test material
  is_enabled                    = var.enabled
  pending_delete_window_in_days = 7
}

# Asymmetric keys (issue 24): an HSM-level signing key and a decryption key.
resource "tencentcloud_kms_key" "signer" {
  alias                         = "tf-signer"
  description                   = var.description
  key_usage                     = "ASYMMETRIC_SIGN_VERIFY_ECC"
  hsm_cluster_id                = "keyport-hsm"
  is_enabled                    = var.enabled
  pending_delete_window_in_days = 7
}

resource "tencentcloud_kms_key" "decrypter" {
  alias                         = "tf-decrypter"
  description                   = var.description
  key_usage                     = "ASYMMETRIC_DECRYPT_RSA_2048"
  is_enabled                    = var.enabled
  pending_delete_window_in_days = 7
}

data "tencentcloud_kms_keys" "all" {
  search_key_alias = "tf-"
  depends_on       = [tencentcloud_kms_key.app, tencentcloud_kms_external_key.byok, tencentcloud_kms_key.signer, tencentcloud_kms_key.decrypter]
}

output "listed" {
  value = length(data.tencentcloud_kms_keys.all.key_list)
}
