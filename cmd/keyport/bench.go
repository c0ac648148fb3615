package main

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/hsm"
)

// endpointFlags say where and as whom to call, for bench and import. The
// secret comes from the environment or a file, never a flag value.
func endpointFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "endpoint", Value: "http://127.0.0.1:8080", EnvVars: []string{"KEYPORT_ENDPOINT"}, Usage: "Keyport, or a cloud KMS endpoint (a bare host means https)"},
		&cli.StringFlag{Name: "dialect", Value: "aliyun", Usage: "aliyun or tencent"},
		&cli.StringFlag{Name: "region", Usage: "region (default cn-hangzhou, or ap-guangzhou for tencent)"},
		&cli.StringFlag{Name: "access-key-id", Usage: "AccessKeyId / SecretId (else ALIBABA_CLOUD_ACCESS_KEY_ID, TENCENTCLOUD_SECRET_ID or KEYPORT_ACCESS_KEY_ID)"},
		&cli.StringFlag{Name: "secret-file", Usage: "file holding the secret (else ALIBABA_CLOUD_ACCESS_KEY_SECRET, TENCENTCLOUD_SECRET_KEY or KEYPORT_ACCESS_KEY_SECRET)"},
		&cli.BoolFlag{Name: "insecure-http", Usage: "allow an http:// endpoint other than loopback (anyone on the path could swap the wrapping public key and take the key material)"},
	}
}

// refusePlainHTTP refuses http:// to anything but loopback: over plain
// HTTP anyone on the path can swap the wrapping public key GetParametersForImport
// returns and so capture the key material wrapped for it, or read plaintexts.
func refusePlainHTTP(c *cli.Context) error {
	u, err := url.Parse(c.String("endpoint"))
	if err != nil || u.Scheme != "http" || isLoopback(u.Hostname()) || c.Bool("insecure-http") {
		return nil
	}
	return usagef("refusing plain HTTP to %s, which is not loopback: anyone on the path could swap the wrapping public key and take the key material; use https://, or --insecure-http if the path is yours", u.Host)
}

// newClient builds a client from the endpoint flags and the clouds'
// standard environment variables.
func newClient(c *cli.Context) (*client.Client, error) {
	d := client.Dialect(c.String("dialect"))
	idEnv, secretEnv := "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	if d == client.Tencent {
		idEnv, secretEnv = "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"
	}
	id := firstOf(c.String("access-key-id"), os.Getenv(idEnv), os.Getenv("KEYPORT_ACCESS_KEY_ID"))
	secret := firstOf(os.Getenv(secretEnv), os.Getenv("KEYPORT_ACCESS_KEY_SECRET"))
	if f := c.String("secret-file"); f != "" {
		var err error
		if secret, err = hsm.ReadPINFile(f); err != nil {
			return nil, fmt.Errorf("secret file: %w", err)
		}
	}
	if err := refusePlainHTTP(c); err != nil {
		return nil, err
	}
	if id == "" || secret == "" {
		return nil, usagef("no credentials: give --access-key-id (or %s) and the secret in %s or --secret-file", idEnv, secretEnv)
	}
	cl, err := client.New(client.Config{Endpoint: c.String("endpoint"), Dialect: d, AccessKeyID: id, Secret: secret, Region: c.String("region")})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return cl, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func benchCommand() *cli.Command {
	var ops []string
	for _, o := range client.Ops {
		ops = append(ops, string(o))
	}
	return &cli.Command{
		Name:  "bench",
		Usage: "send load to Keyport (or a cloud KMS) and report throughput and latency per operation",
		Flags: append(endpointFlags(),
			&cli.StringFlag{Name: "op", Value: "mix", Usage: strings.Join(ops, ", ")},
			&cli.IntFlag{Name: "concurrency", Value: 8, Usage: "requests in flight at most"},
			&cli.DurationFlag{Name: "duration", Usage: "how long to send (default 10s unless --requests)"},
			&cli.IntFlag{Name: "requests", Usage: "how many requests in all"},
			&cli.Float64Flag{Name: "rate", Usage: "open loop: requests a second on schedule, latency counted from when each was due"},
			&cli.DurationFlag{Name: "warmup", Usage: "send this long first without counting"},
			&cli.StringFlag{Name: "key-id", Usage: "key to encrypt under (default: one made for the run)"},
			&cli.BoolFlag{Name: "hsm", Usage: "make that key HSM-level (material and encryption in the token)"},
			&cli.StringFlag{Name: "wrapping-algorithm", Value: "RSAES_OAEP_SHA_256", Usage: "for get-parameters and import"},
			&cli.StringFlag{Name: "wrapping-key-spec", Usage: "for get-parameters and import (default: what the algorithm asks for)"},
			&cli.StringFlag{Name: "key-spec", Value: "RSA_2048", Usage: "the signing key's spec, for sign and verify"},
			&cli.StringFlag{Name: "sign-algorithm", Usage: "for sign and verify (default RSA_PKCS1_SHA_256, or ECDSA_SHA_256 for an EC key)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		),
		Action: bench,
	}
}

func bench(c *cli.Context) error {
	if c.Int("concurrency") < 0 || c.Int("requests") < 0 || c.Float64("rate") < 0 {
		return usagef("--concurrency, --requests and --rate must be 0 or more")
	}
	if !slices.Contains(client.Ops, client.Op(c.String("op"))) {
		return usagef("--op %q: use one of %v", c.String("op"), client.Ops)
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	load := client.Load{
		Op: client.Op(c.String("op")), Concurrency: c.Int("concurrency"), Duration: c.Duration("duration"),
		Requests: c.Int("requests"), Rate: c.Float64("rate"), Warmup: c.Duration("warmup"),
		KeyID: c.String("key-id"), HSM: c.Bool("hsm"), Algorithm: c.String("wrapping-algorithm"),
		WrappingKeySpec: c.String("wrapping-key-spec"), KeySpec: c.String("key-spec"), SignAlgorithm: c.String("sign-algorithm"),
	}
	if f, ok := terminal(c.App.ErrWriter); ok {
		start := time.Now()
		load.Progress = func(done, errs int64) {
			el := time.Since(start)
			fmt.Fprintf(f, "\r%6.1fs  %d requests  %.0f/s  %d errors   ", el.Seconds(), done, float64(done)/el.Seconds(), errs)
		}
		defer fmt.Fprint(f, "\r\033[K")
	}
	rep, err := cl.Run(c.Context, load)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c, rep)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	var rows [][]string
	for _, o := range rep.Ops {
		rows = append(rows, []string{string(o.Op), fmt.Sprint(o.Requests), fmt.Sprint(o.Errors), fmt.Sprintf("%.1f", o.PerSecond),
			ms(o.P50), ms(o.P90), ms(o.P99), ms(o.Max)})
	}
	fmt.Fprintf(c.App.Writer, "%s over %s, %s dialect, %.1fs\n", load.Op, c.String("endpoint"), cl.Dialect(), rep.Duration.Seconds())
	if err := output(c, nil, []string{"OPERATION", "REQUESTS", "ERRORS", "PER SECOND", "P50", "P90", "P99", "MAX"}, rows); err != nil {
		return err
	}
	for code, n := range rep.Errors {
		fmt.Fprintf(c.App.Writer, "error %s: %d\n", code, n)
	}
	return nil
}
