package tencent

import (
	"slices"
	"strconv"
	"strings"

	"github.com/keyport-kms/keyport/service"
)

// keep says whether a listing keeps a key.
type keep func(*service.KeyMetadata) bool

func keepAll(*service.KeyMetadata) bool  { return true }
func keepNone(*service.KeyMetadata) bool { return false }

// enumFilter is one enumerated filter parameter of ListKeyDetail (and
// ListKeys), as Tencent Cloud documents it: every value it takes and what
// each keeps. absent is what an omitted parameter means; a value not in
// values is refused.
type enumFilter struct {
	param  string
	absent string
	values map[string]keep
	of     func(*listKeyDetailRequest) *string // the parameter as given, nil if omitted
}

func keepState(s service.KeyState) keep {
	return func(m *service.KeyMetadata) bool { return m.State == s }
}
func keepOrigin(o service.Origin) keep {
	return func(m *service.KeyMetadata) bool { return m.Origin == o }
}
func keepUsage(u string) keep { return func(m *service.KeyMetadata) bool { return keyUsage(m) == u } }
func uintParam(p *uint64) *string {
	if p == nil {
		return nil
	}
	s := strconv.FormatUint(*p, 10)
	return &s
}

// keyUsage is a key's KeyUsage, as ListKeyDetail filters it.
func keyUsage(m *service.KeyMetadata) string { return usageName(m) }

// detailFilters is ListKeyDetail's table of enumerated filters. "ALL" (and
// 0 for KeyState) is documented as no filter; an omitted KeyUsage means
// ENCRYPT_DECRYPT; Role 1 asks for keys other cloud products made for the
// account, of which Keyport has none.
var detailFilters = []enumFilter{
	roleFilter,
	{param: "KeyState", absent: "0", of: func(r *listKeyDetailRequest) *string { return uintParam(r.KeyState) },
		values: map[string]keep{"0": keepAll, "1": keepState(service.StateEnabled), "2": keepState(service.StateDisabled),
			"3": keepState(service.StatePendingDeletion), "4": keepState(service.StatePendingImport), "5": keepState(service.StateArchived)}},
	{param: "Origin", absent: "ALL", of: func(r *listKeyDetailRequest) *string { return r.Origin },
		values: map[string]keep{"ALL": keepAll, "": keepAll, "TENCENT_KMS": keepOrigin(service.OriginKMS), "EXTERNAL": keepOrigin(service.OriginExternal)}},
	{param: "KeyUsage", absent: usageEncryptDecrypt, of: func(r *listKeyDetailRequest) *string { return r.KeyUsage },
		values: map[string]keep{"ALL": keepAll, "": keepUsage(usageEncryptDecrypt), usageEncryptDecrypt: keepUsage(usageEncryptDecrypt),
			"ASYMMETRIC_DECRYPT_RSA_2048": keepUsage("ASYMMETRIC_DECRYPT_RSA_2048"), "ASYMMETRIC_DECRYPT_SM2": keepUsage("ASYMMETRIC_DECRYPT_SM2"),
			"ASYMMETRIC_SIGN_VERIFY_SM2": keepUsage("ASYMMETRIC_SIGN_VERIFY_SM2"), "ASYMMETRIC_SIGN_VERIFY_RSA_2048": keepUsage("ASYMMETRIC_SIGN_VERIFY_RSA_2048"),
			"ASYMMETRIC_SIGN_VERIFY_ECC": keepUsage("ASYMMETRIC_SIGN_VERIFY_ECC")}},
}

// roleFilter is Role, which ListKeys takes too.
var roleFilter = enumFilter{param: "Role", absent: "0", of: func(r *listKeyDetailRequest) *string { return uintParam(r.Role) },
	values: map[string]keep{"0": keepAll, "1": keepNone}}

// selector builds what a filter keeps for the request, or refuses a value
// the table does not have.
func (f enumFilter) selector(r *listKeyDetailRequest) (keep, error) {
	v := f.absent
	if p := f.of(r); p != nil {
		v = *p
	}
	k, ok := f.values[v]
	if !ok {
		names := make([]string, 0, len(f.values))
		for n := range f.values {
			if n != "" {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		return nil, invalidParameter(f.param, "one of "+strings.Join(names, ", "))
	}
	return k, nil
}

// detailSelector is what a ListKeyDetail request keeps: every enumerated
// filter of the table, then the free ones (SearchKeyAlias on the key id or
// alias, HsmClusterId, TagFilters).
func detailSelector(r *listKeyDetailRequest, filters []enumFilter) (keep, error) {
	keeps := make([]keep, 0, len(filters))
	for _, f := range filters {
		k, err := f.selector(r)
		if err != nil {
			return nil, err
		}
		keeps = append(keeps, k)
	}
	return func(m *service.KeyMetadata) bool {
		for _, k := range keeps {
			if !k(m) {
				return false
			}
		}
		if q := str(r.SearchKeyAlias); q != "" && !strings.Contains(m.KeyID, q) && !strings.Contains(m.Alias, q) {
			return false
		}
		if c := str(r.HsmClusterId); c != "" && c != m.HSMCluster {
			return false
		}
		for _, f := range r.TagFilters {
			v, ok := m.Tags[str(f.TagKey)]
			if !ok || (len(f.TagValue) > 0 && !slices.ContainsFunc(f.TagValue, func(p *string) bool { return str(p) == v })) {
				return false
			}
		}
		return true
	}, nil
}
