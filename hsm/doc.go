// Package hsm is Keyport's only door to PKCS#11. It generates wrapping key
// pairs inside the token, decrypts with them, keeps named master keys and
// imported key material as non-extractable token objects, and hides sessions,
// handles, logins and reconnects from the layer above, which sees Token.
//
// Two layers live here. HSM (hsm.go) is what callers hold for the life of
// the process: it validates the Config, keeps the capabilities the probe
// found (capabilities.go, one table per token quirk), and survives the
// token going away: while it is gone calls fail fast with ErrUnavailable,
// and after RetryInterval the next call builds a new conn. conn (conn.go)
// is one logged-in connection: the crypto11 context, the miekg context, the
// session pool (sessions.go), the handle cache and the write locks a token
// with SoftHSM2's object quirk needs; it is thrown away whole, because
// handles and logins do not survive a module reset. Operations (ops.go,
// keygen.go, import.go, seal.go, secret.go, sm2*.go, rsa.go, oaep.go) are
// written against a conn and reached through HSM's methods, which take a
// live conn, run, and mark it dead on a device error.
package hsm
