package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyport-kms/keyport/client/byok"
)

// Op is one kind of request the load generator sends.
type Op string

const (
	OpEncrypt         Op = "encrypt"
	OpDecrypt         Op = "decrypt"
	OpGenerateDataKey Op = "generate-data-key"
	OpGetParameters   Op = "get-parameters" // GetParametersForImport: a fresh wrapping key each
	OpImport          Op = "import"         // the whole BYOK flow: CreateKey, GetParametersForImport, wrap, ImportKeyMaterial
	OpHealthz         Op = "healthz"        // GET /healthz: the no-op baseline
	OpMix             Op = "mix"            // encrypt, decrypt and generate-data-key in turn
	OpSign            Op = "sign"           // AsymmetricSign with a signing key (Alibaba Cloud's dialect)
	OpVerify          Op = "verify"         // AsymmetricVerify of one signature (Alibaba Cloud's dialect)
)

// Ops lists the operations, for help texts and validation.
var Ops = []Op{OpEncrypt, OpDecrypt, OpGenerateDataKey, OpGetParameters, OpImport, OpHealthz, OpMix, OpSign, OpVerify}

// Load is one load-generation run.
type Load struct {
	Op              Op
	Concurrency     int           // workers, requests in flight at most (default 8)
	Duration        time.Duration // how long to send (default 10 s, unless Requests is set)
	Requests        int           // how many to send in all (0: by Duration)
	Rate            float64       // open loop: requests a second, sent on schedule whatever the answers; 0: closed loop
	Warmup          time.Duration // sent but not counted
	KeyID           string        // key for encrypt and the others; made when empty
	HSM             bool          // make that key HSM-level (material in the token)
	Algorithm       string        // wrapping algorithm of get-parameters and import (default RSAES_OAEP_SHA_256)
	WrappingKeySpec string        // wrapping key spec of get-parameters and import (default: the algorithm's)
	KeySpec         string        // spec of sign's and verify's key (default RSA_2048)
	SignAlgorithm   string        // their algorithm (default RSA_PKCS1_SHA_256, or ECDSA_SHA_256 for an EC key)
	Progress        func(done, errors int64)
}

// Report is what a run measured. In open loop a latency counts from when
// the request was due, so a server that falls behind shows it (no
// coordinated omission).
type Report struct {
	Duration time.Duration  `json:"-"`
	Seconds  float64        `json:"duration_seconds"`
	Ops      []OpReport     `json:"operations"`
	Errors   map[string]int `json:"errors_by_code"`
}

// OpReport is one operation's figures.
type OpReport struct {
	Op        Op            `json:"operation"`
	Requests  int           `json:"requests"`
	Errors    int           `json:"errors"`
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
}

// Op returns the report of op, or a zero one.
func (r *Report) Op(op Op) OpReport {
	for _, o := range r.Ops {
		if o.Op == op {
			return o
		}
	}
	return OpReport{Op: op}
}

type sample struct {
	op  Op
	d   time.Duration
	err error
}

// Run sends the load and reports. It prepares what the operation needs
// first (a key, a ciphertext), outside the measurement.
func (c *Client) Run(ctx context.Context, l Load) (*Report, error) {
	if !slices.Contains(Ops, l.Op) {
		return nil, fmt.Errorf("operation %q: use one of %v", l.Op, Ops)
	}
	if l.Concurrency <= 0 {
		l.Concurrency = 8
	}
	if l.Duration <= 0 && l.Requests <= 0 {
		l.Duration = 10 * time.Second
	}
	if l.Algorithm == "" {
		l.Algorithm = "RSAES_OAEP_SHA_256"
	}
	do, err := c.prepare(ctx, l)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}

	start := time.Now()
	countFrom := start.Add(l.Warmup)
	end := time.Time{}
	if l.Duration > 0 {
		end = countFrom.Add(l.Duration)
	}
	var sent, done, failed atomic.Int64
	// next claims the next request: its number and due time, or false when
	// the run is over.
	next := func() (int, time.Time, bool) {
		n := sent.Add(1) - 1
		if l.Requests > 0 && n >= int64(l.Requests) {
			return 0, time.Time{}, false
		}
		due := time.Now()
		if l.Rate > 0 {
			due = start.Add(time.Duration(float64(n) / l.Rate * float64(time.Second)))
		}
		if !end.IsZero() && !due.Before(end) {
			return 0, time.Time{}, false
		}
		return int(n), due, true
	}
	results := make([][]sample, l.Concurrency)
	var wg sync.WaitGroup
	for w := range l.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, due, ok := next()
				if !ok || ctx.Err() != nil {
					return
				}
				if wait := time.Until(due); wait > 0 {
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return
					}
				}
				op, err := do(ctx, i)
				d := time.Since(due)
				done.Add(1)
				if err != nil {
					failed.Add(1)
				}
				if !due.Before(countFrom) {
					results[w] = append(results[w], sample{op, d, err})
				}
			}
		}()
	}
	stopProgress := make(chan struct{})
	if l.Progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					l.Progress(done.Load(), failed.Load())
				case <-stopProgress:
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	elapsed := time.Since(countFrom)
	if l.Duration > 0 && l.Requests == 0 && elapsed > l.Duration {
		elapsed = l.Duration // in-flight requests past the end still count, their time does not stretch the run
	}
	return report(results, elapsed), ctx.Err()
}

func report(results [][]sample, elapsed time.Duration) *Report {
	byOp := map[Op][]time.Duration{}
	errs := map[Op]int{}
	r := &Report{Duration: elapsed, Seconds: elapsed.Seconds(), Errors: map[string]int{}}
	for _, rs := range results {
		for _, s := range rs {
			byOp[s.op] = append(byOp[s.op], s.d)
			if s.err != nil {
				errs[s.op]++
				r.Errors[errorCode(s.err)]++
			}
		}
	}
	for op, ds := range byOp {
		slices.Sort(ds)
		pct := func(p float64) time.Duration { return ds[min(len(ds)-1, int(float64(len(ds))*p))] }
		r.Ops = append(r.Ops, OpReport{Op: op, Requests: len(ds), Errors: errs[op],
			PerSecond: float64(len(ds)) / elapsed.Seconds(), P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: ds[len(ds)-1]})
	}
	slices.SortFunc(r.Ops, func(a, b OpReport) int { return cmpOp(a.Op, b.Op) })
	return r
}

func cmpOp(a, b Op) int { return slices.Index(Ops, a) - slices.Index(Ops, b) }

// errorCode is the server's code, or what kind of failure it was.
func errorCode(err error) string {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	}
	return "TransportError"
}

// prepare makes what op needs and returns the function doing request i.
func (c *Client) prepare(ctx context.Context, l Load) (func(context.Context, int) (Op, error), error) {
	spec := byok.Spec(l.Algorithm)
	if l.WrappingKeySpec != "" {
		spec = l.WrappingKeySpec
	}
	hsm := spec == "EC_SM2" // SM2 wrapping is for HSM-level keys only
	material := func() []byte {
		m := make([]byte, 32)
		_, _ = rand.Read(m)
		return m
	}
	switch l.Op {
	case OpHealthz:
		return func(ctx context.Context, _ int) (Op, error) { return OpHealthz, c.Healthz(ctx) }, nil
	case OpGetParameters:
		keyID, err := c.CreateKey(ctx, true, hsm)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, _ int) (Op, error) {
			_, err := c.GetParametersForImport(ctx, keyID, spec, l.Algorithm)
			return OpGetParameters, err
		}, nil
	case OpImport:
		return func(ctx context.Context, _ int) (Op, error) {
			keyID, err := c.CreateKey(ctx, true, hsm)
			if err == nil {
				err = c.Import(ctx, keyID, spec, l.Algorithm, material(), time.Time{})
			}
			return OpImport, err
		}, nil
	case OpSign, OpVerify:
		return c.prepareSigning(ctx, l)
	}
	keyID := l.KeyID
	if keyID == "" {
		var err error
		if keyID, err = c.CreateKey(ctx, false, l.HSM); err != nil {
			return nil, err
		}
	}
	blob, err := c.Encrypt(ctx, keyID, material())
	if err != nil {
		return nil, err
	}
	one := map[Op]func(context.Context) error{
		OpEncrypt: func(ctx context.Context) error { _, err := c.Encrypt(ctx, keyID, material()); return err },
		OpDecrypt: func(ctx context.Context) error { _, err := c.Decrypt(ctx, blob); return err },
		OpGenerateDataKey: func(ctx context.Context) error {
			_, _, err := c.GenerateDataKey(ctx, keyID)
			return err
		},
	}
	return func(ctx context.Context, i int) (Op, error) {
		op := l.Op
		if op == OpMix {
			op = []Op{OpEncrypt, OpDecrypt, OpGenerateDataKey}[i%3]
		}
		return op, one[op](ctx)
	}, nil
}

// prepareSigning makes a signing key (HSM-level with --hsm) and, for
// verify, one signature of a fixed digest.
func (c *Client) prepareSigning(ctx context.Context, l Load) (func(context.Context, int) (Op, error), error) {
	if c.cfg.Dialect != Aliyun {
		return nil, fmt.Errorf("%s: Alibaba Cloud's dialect only", l.Op)
	}
	spec, alg := l.KeySpec, l.SignAlgorithm
	if spec == "" {
		spec = "RSA_2048"
	}
	if alg == "" {
		alg = "RSA_PKCS1_SHA_256"
		if strings.HasPrefix(spec, "EC_") {
			alg = "ECDSA_SHA_256"
		}
	}
	level := "SOFTWARE"
	if l.HSM {
		level = "HSM"
	}
	keyID, version := l.KeyID, ""
	if keyID == "" {
		var out struct {
			KeyMetadata struct{ KeyId, PrimaryKeyVersion string }
		}
		if err := c.Call(ctx, "CreateKey", map[string]any{"KeySpec": spec, "KeyUsage": "SIGN/VERIFY", "ProtectionLevel": level}, &out); err != nil {
			return nil, err
		}
		keyID, version = out.KeyMetadata.KeyId, out.KeyMetadata.PrimaryKeyVersion
	} else {
		var out struct {
			KeyMetadata struct{ PrimaryKeyVersion string }
		}
		if err := c.Call(ctx, "DescribeKey", map[string]any{"KeyId": keyID}, &out); err != nil {
			return nil, err
		}
		version = out.KeyMetadata.PrimaryKeyVersion
	}
	digest := make([]byte, 32)
	_, _ = rand.Read(digest)
	p := map[string]any{"KeyId": keyID, "KeyVersionId": version, "Algorithm": alg, "Digest": base64.StdEncoding.EncodeToString(digest)}
	var signed struct{ Value string }
	if err := c.Call(ctx, "AsymmetricSign", p, &signed); err != nil {
		return nil, err
	}
	if l.Op == OpSign {
		return func(ctx context.Context, _ int) (Op, error) { return OpSign, c.Call(ctx, "AsymmetricSign", p, nil) }, nil
	}
	vp := map[string]any{"Value": signed.Value}
	maps.Copy(vp, p)
	return func(ctx context.Context, _ int) (Op, error) {
		var out struct{ Value bool }
		err := c.Call(ctx, "AsymmetricVerify", vp, &out)
		if err == nil && !out.Value {
			err = errors.New("the signature does not verify")
		}
		return OpVerify, err
	}, nil
}
