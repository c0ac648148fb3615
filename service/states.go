package service

import (
	"context"

	"github.com/keyport-kms/keyport/store"
)

// Op is what an action does to a key, as far as the key's state decides
// whether it may.
type Op int

const (
	OpUse               Op = iota // Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt's destination
	OpDecrypt                     // Decrypt, ReEncrypt's source
	OpUpdateDescription           // UpdateKeyDescription
	OpTag                         // TagResource, UntagResource (Tencent: the tag API)
	OpRotationPolicy              // UpdateRotationPolicy (Tencent: EnableKeyRotation, DisableKeyRotation)
	OpRotate                      // CreateKeyVersion, automatic rotation
	OpEnable                      // EnableKey
	OpDisable                     // DisableKey
	OpScheduleDeletion            // ScheduleKeyDeletion
	OpCancelDeletion              // CancelKeyDeletion
	OpAliasTarget                 // CreateAlias, and UpdateAlias's target key (the key it leaves does not count)
	OpImport                      // ImportKeyMaterial
	OpDeleteMaterial              // DeleteKeyMaterial
	OpArchive                     // ArchiveKey (Tencent Cloud)
	OpCancelArchive               // CancelKeyArchive (Tencent Cloud)
	OpAsymmetric                  // AsymmetricSign, AsymmetricVerify, AsymmetricEncrypt, AsymmetricDecrypt, GetPublicKey
	opEnd
)

// Allowed marks a state in which an operation goes ahead.
const Allowed Kind = -1

// StateRule is one row of the state table: the outcome of an operation
// in each state of the key.
type StateRule struct {
	Enabled, Disabled, PendingDeletion, PendingImport, Archived Kind
}

// Outcome is the row's cell for state.
func (r StateRule) Outcome(state KeyState) Kind {
	switch state {
	case StateEnabled:
		return r.Enabled
	case StateDisabled:
		return r.Disabled
	case StatePendingDeletion:
		return r.PendingDeletion
	case StatePendingImport:
		return r.PendingImport
	case StateArchived:
		return r.Archived
	}
	return KindStateConflict
}

// Cloud is whose state rules a request follows: the dialect it came in by
// says (WithCloud); Alibaba Cloud's unless one does.
type Cloud int

const (
	CloudAliyun Cloud = iota
	CloudTencent
)

type cloudKey struct{}

// WithCloud marks ctx as a request of cloud's dialect.
func WithCloud(ctx context.Context, c Cloud) context.Context {
	return context.WithValue(ctx, cloudKey{}, c)
}

func cloudOf(ctx context.Context) Cloud {
	c, _ := ctx.Value(cloudKey{}).(Cloud)
	return c
}

// AliyunStateRules is Alibaba Cloud's "Impact of CMK status on API operations"
// table (each refusal a Kind: KindDisabled is Rejected.Disabled,
// KindPendingDeletion Rejected.PendingDeletion, KindPendingImport
// Rejected.PendingImport, KindStateConflict and KindNotPendingDeletion
// Rejected.StateModifiedFailed), with a column for Tencent Cloud's
// Archived state, whose rules Tencent Cloud documents on ArchiveKey and
// CancelKeyArchive: an archived key decrypts but does not encrypt, and
// only an Enabled key is archived. Actions not listed (CreateKey, ListKeys,
// DescribeKey, DeleteAlias, ListAliases, GetParametersForImport, key
// policies, deletion protection) go ahead in every state. Every action that
// acts on a key's state asks allow, and nothing else decides.
var AliyunStateRules = [opEnd]StateRule{
	OpUse:               {Allowed, KindDisabled, KindPendingDeletion, KindPendingImport, KindStateConflict},
	OpDecrypt:           {Allowed, KindDisabled, KindPendingDeletion, KindPendingImport, Allowed},
	OpUpdateDescription: {Allowed, Allowed, KindPendingDeletion, Allowed, Allowed},
	OpTag:               {Allowed, Allowed, KindPendingDeletion, Allowed, Allowed},
	OpRotationPolicy:    {Allowed, KindDisabled, KindPendingDeletion, KindPendingImport, KindStateConflict},
	OpRotate:            {Allowed, KindDisabled, KindPendingDeletion, KindPendingImport, KindStateConflict},
	OpEnable:            {Allowed, Allowed, KindStateConflict, KindStateConflict, Allowed},
	OpDisable:           {Allowed, Allowed, KindStateConflict, KindStateConflict, Allowed},
	OpScheduleDeletion:  {Allowed, Allowed, KindStateConflict, Allowed, Allowed},
	OpCancelDeletion:    {KindNotPendingDeletion, KindNotPendingDeletion, Allowed, KindNotPendingDeletion, KindNotPendingDeletion},
	OpAliasTarget:       {Allowed, Allowed, KindStateConflict, Allowed, Allowed},
	OpImport:            {Allowed, Allowed, KindPendingDeletion, Allowed, Allowed},
	OpDeleteMaterial:    {Allowed, Allowed, Allowed, Allowed, Allowed}, // a key pending deletion stays so (DeleteKeyMaterial's page)
	OpArchive:           {Allowed, KindStateConflict, KindStateConflict, KindStateConflict, Allowed},
	OpCancelArchive:     {KindStateConflict, KindStateConflict, KindStateConflict, KindStateConflict, Allowed},
	OpAsymmetric:        {Allowed, KindDisabled, KindPendingDeletion, KindPendingImport, KindStateConflict},
}

var opNames = [opEnd]string{
	OpUse: "use", OpDecrypt: "decrypt with", OpUpdateDescription: "describe", OpTag: "tag", OpRotationPolicy: "set the rotation policy of",
	OpRotate: "rotate", OpEnable: "enable", OpDisable: "disable", OpScheduleDeletion: "schedule the deletion of",
	OpCancelDeletion: "cancel the deletion of", OpAliasTarget: "point an alias at", OpImport: "import material into",
	OpDeleteMaterial: "delete the material of", OpArchive: "archive", OpCancelArchive: "cancel the archiving of",
	OpAsymmetric: "use",
}

// keyPurpose is what a key's material is for, which its spec and usage
// decide together.
type keyPurpose int

const (
	purposeSymmetric keyPurpose = iota + 1 // a symmetric spec: Encrypt, Decrypt, data keys
	purposeSign                            // an asymmetric spec with SIGN/VERIFY
	purposeDecrypt                         // an asymmetric spec with ENCRYPT/DECRYPT
)

// purposeOf is k's purpose; a record without a usage is a symmetric key's.
func purposeOf(k *store.Key) keyPurpose {
	switch {
	case !KeySpec(k.Spec).Asymmetric():
		return purposeSymmetric
	case KeyUsage(k.Usage) == UsageSignVerify:
		return purposeSign
	}
	return purposeDecrypt
}

// opPurpose is the purpose a key must have for an operation on its
// material (operations not listed touch no material, and any key may
// undergo them): symmetric cryptography and rotation are symmetric keys'
// (any EXTERNAL key takes imported material, each of its own kind). The asymmetric actions say which purpose each needs
// (asymmetricKey).
var opPurpose = map[Op]keyPurpose{
	OpUse: purposeSymmetric, OpDecrypt: purposeSymmetric, OpRotationPolicy: purposeSymmetric, OpRotate: purposeSymmetric,
}

// TencentStateRules is Alibaba Cloud's table where Tencent Cloud documents
// otherwise ("删除密钥", product/1030/32780): a key is disabled before
// its deletion is scheduled (its Terraform provider disables first), and
// rotation is switched in any state (the provider does so on a Disabled
// key). CancelKeyDeletion leaves a Tencent key Disabled (cancelledState).
var TencentStateRules = func() [opEnd]StateRule {
	t := AliyunStateRules
	t[OpScheduleDeletion] = StateRule{KindStateConflict, Allowed, KindStateConflict, Allowed, KindStateConflict}
	t[OpRotationPolicy] = StateRule{Allowed, Allowed, Allowed, Allowed, Allowed}
	return t
}()

// StateRules are each cloud's table.
var StateRules = map[Cloud]*[opEnd]StateRule{CloudAliyun: &AliyunStateRules, CloudTencent: &TencentStateRules}

// cancelledState is where CancelKeyDeletion leaves a key with material:
// Enabled on Alibaba Cloud, Disabled on Tencent Cloud.
var cancelledState = map[Cloud]KeyState{CloudAliyun: StateEnabled, CloudTencent: StateDisabled}

// allow says whether op may act on k in its state as of now, under the
// rules of the request's cloud, and if not, why, with the Kind the table
// gives.
func (s *Service) allow(ctx context.Context, op Op, k *store.Key) error {
	if need, ok := opPurpose[op]; ok && purposeOf(k) != need {
		return errorf(KindInvalidKeyUsage, "cannot %s a %s key whose KeyUsage is %s this way", opNames[op], k.Spec, k.Usage)
	}
	state := s.state(k)
	kind := StateRules[cloudOf(ctx)][op].Outcome(state)
	switch kind {
	case Allowed:
		return nil
	case KindPendingImport:
		return errorf(kind, "the key has no key material; import it first")
	}
	return errorf(kind, "cannot %s a key that is %s", opNames[op], state)
}
