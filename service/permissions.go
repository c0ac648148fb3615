package service

// Permission is an action as each policy language names it. A request is
// checked under the name its document's language uses, so that a RAM and a
// CAM policy each decide a request the same way whichever cloud's API it
// came through.
type Permission struct {
	RAM string // "kms:DeleteKeyMaterial"
	CAM string // "kms:DeleteImportedKeyMaterial"
}

// Permissions pairs every action served with its namesake in the other
// cloud's API: an Alibaba Cloud action is checked as its RAM name and as the
// CAM name of its row, a Tencent Cloud action as its CAM name and as the RAM
// name of its row. Where an action has several rows, the first is its pair.
// An action no row names is refused to every user (PermissionOf). Both
// dialects' tests walk their action tables against this one.
var Permissions = []Permission{
	{"kms:CreateKey", "kms:CreateKey"},
	{"kms:DescribeKey", "kms:DescribeKey"},
	{"kms:ListKeys", "kms:ListKeys"},
	{"kms:EnableKey", "kms:EnableKey"},
	{"kms:DisableKey", "kms:DisableKey"},
	{"kms:ScheduleKeyDeletion", "kms:ScheduleKeyDeletion"},
	{"kms:CancelKeyDeletion", "kms:CancelKeyDeletion"},
	{"kms:GetParametersForImport", "kms:GetParametersForImport"},
	{"kms:ImportKeyMaterial", "kms:ImportKeyMaterial"},
	{"kms:DeleteKeyMaterial", "kms:DeleteImportedKeyMaterial"},
	{"kms:Encrypt", "kms:Encrypt"},
	{"kms:Decrypt", "kms:Decrypt"},
	{"kms:GenerateDataKey", "kms:GenerateDataKey"},
	{"kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKey"},
	{"kms:UpdateKeyDescription", "kms:UpdateKeyDescription"},
	{"kms:SetDeletionProtection", "kms:SetDeletionProtection"},
	{"kms:SetKeyPolicy", "kms:SetKeyPolicy"},
	{"kms:GetKeyPolicy", "kms:GetKeyPolicy"},
	{"kms:UpdateRotationPolicy", "kms:EnableKeyRotation"},
	{"kms:UpdateRotationPolicy", "kms:DisableKeyRotation"},
	{"kms:DescribeKey", "kms:GetKeyRotationStatus"},
	{"kms:TagResources", "tag:ModifyResourceTags"},
	{"kms:UntagResources", "tag:ModifyResourceTags"},
	{"kms:TagResource", "tag:ModifyResourceTags"},
	{"kms:UntagResource", "tag:ModifyResourceTags"},
	{"kms:ListTagResources", "tag:DescribeResourceTagsByResourceIds"},
	{"kms:ListResourceTags", "tag:DescribeResourceTagsByResourceIds"},
	{"kms:UpdateAlias", "kms:UpdateAlias"},
	{"kms:CreateAlias", "kms:UpdateAlias"},
	{"kms:DeleteAlias", "kms:UpdateAlias"},
	{"kms:ListAliases", "kms:ListKeys"},
	{"kms:ListAliasesByKeyId", "kms:DescribeKey"},
	{"kms:CreateKeyVersion", "kms:CreateKeyVersion"},
	{"kms:DescribeKeyVersion", "kms:DescribeKey"},
	{"kms:ListKeyVersions", "kms:DescribeKey"},
	{"kms:ReEncrypt", "kms:ReEncrypt"}, // checked as ReEncryptFrom and ReEncryptTo (ReEncrypt)
	{"kms:ArchiveKey", "kms:ArchiveKey"},
	{"kms:CancelKeyArchive", "kms:CancelKeyArchive"},
	{"kms:EnableKey", "kms:EnableKeys"},
	{"kms:DisableKey", "kms:DisableKeys"},
	{"kms:ListKeys", "kms:ListKeyDetail"},
	{"kms:DescribeKey", "kms:DescribeKeys"},
	{"kms:GenerateRandom", "kms:GenerateRandom"},
	{"kms:AsymmetricSign", "kms:SignByAsymmetricKey"},
	{"kms:AsymmetricVerify", "kms:VerifyByAsymmetricKey"},
	{"kms:GetPublicKey", "kms:GetPublicKey"},
	{"kms:AsymmetricEncrypt", "kms:AsymmetricEncrypt"}, // Tencent Cloud has none: callers encrypt to the public key
	{"kms:AsymmetricDecrypt", "kms:AsymmetricRsaDecrypt"},
	{"kms:AsymmetricDecrypt", "kms:AsymmetricSm2Decrypt"},
	{"kms:DescribeRegions", "kms:GetServiceStatus"},
	{"kms:DescribeRegions", "kms:ListAlgorithms"},
}

// Unchecked are the actions any authenticated caller may call: they touch
// no key and tell nothing of the account (Alibaba Cloud documents
// DescribeRegions so; Tencent Cloud's service status and algorithm list are
// its like).
var Unchecked = map[string]bool{"kms:DescribeRegions": true, "kms:GetServiceStatus": true, "kms:ListAlgorithms": true}

// The two halves of a ReEncrypt, as RAM names them.
const (
	reEncryptFrom = "kms:ReEncryptFrom"
	reEncryptTo   = "kms:ReEncryptTo"
)

var (
	byRAM = pairs(func(p Permission) string { return p.RAM })
	byCAM = pairs(func(p Permission) string { return p.CAM })
)

func pairs(name func(Permission) string) map[string]Permission {
	m := map[string]Permission{}
	for _, p := range Permissions {
		if _, ok := m[name(p)]; !ok {
			m[name(p)] = p
		}
	}
	return m
}

// PermissionOf is the permission of a dialect's action, named with its
// service ("kms:Encrypt", Tencent Cloud's "tag:ModifyResourceTags"); false
// if no row names it.
func PermissionOf(c Cloud, action string) (Permission, bool) {
	table := byRAM
	if c == CloudTencent {
		table = byCAM
	}
	p, ok := table[action]
	return p, ok
}
