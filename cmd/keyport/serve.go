package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/audit"
	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/metrics"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/aliyun"
	"github.com/keyport-kms/keyport/service/server"
	"github.com/keyport-kms/keyport/service/tencent"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/postgres"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the KMS server (Alibaba Cloud and Tencent Cloud KMS APIs on one listener)",
		Flags: append(append(tokenFlags(), append(storeFlags(), configFlag(), auditFlag())...),
			&cli.BoolFlag{Name: "dev", Usage: "run on a SoftHSM2 token and data directory under ./.keyport-dev, made on first run, and print how to call the server"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", EnvVars: []string{"KEYPORT_LISTEN"}, Usage: "address to listen on"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"KEYPORT_TLS_CERT"}, Usage: "serve HTTPS with this certificate (PEM)"},
			&cli.StringFlag{Name: "tls-key", EnvVars: []string{"KEYPORT_TLS_KEY"}, Usage: "private key of --tls-cert (PEM); SIGHUP loads both again"},
			&cli.BoolFlag{Name: "insecure-http", EnvVars: []string{"KEYPORT_INSECURE_HTTP"}, Usage: "serve plain HTTP on an address other than loopback (behind a TLS-terminating proxy on the same host only)"},
			&cli.Float64Flag{Name: "rate-limit", Value: 100, EnvVars: []string{"KEYPORT_RATE_LIMIT"}, Usage: "requests per second per access key (0: no limit)"},
			&cli.Float64Flag{Name: "auth-failure-limit", Value: 5, EnvVars: []string{"KEYPORT_AUTH_FAILURE_LIMIT"}, Usage: "failed authentications per second per client address (bursts of 20) before its requests are refused (0: no limit)"},
			logLevelFlag(""), logFormatFlag(""),
			&cli.StringFlag{Name: "region", Value: "cn-hangzhou", EnvVars: []string{"KEYPORT_REGION"}, Usage: "region shown in key ARNs"},
			&cli.StringFlag{Name: "tencent-region", Value: "ap-guangzhou", EnvVars: []string{"KEYPORT_TENCENT_REGION"}, Usage: "region in Tencent Cloud tag resource names"},
			&cli.StringFlag{Name: "account-id", Value: "1", EnvVars: []string{"KEYPORT_ACCOUNT_ID"}, Usage: "account id shown in key ARNs and as Creator (Aliyun) and CreatorUin (Tencent Cloud, if numeric)"},
			&cli.IntFlag{Name: "pool-rsa", Value: 16, EnvVars: []string{"KEYPORT_POOL_RSA"}, Usage: "RSA-2048 wrapping key pairs kept ready, at least"},
			&cli.IntFlag{Name: "pool-rsa-max", EnvVars: []string{"KEYPORT_POOL_RSA_MAX"}, Usage: "RSA-2048 pairs kept ready at most, as demand rises (default 4 × --pool-rsa)"},
			&cli.IntFlag{Name: "pool-sm2", Value: 4, EnvVars: []string{"KEYPORT_POOL_SM2"}, Usage: "SM2 wrapping key pairs kept ready, at least"},
			&cli.IntFlag{Name: "pool-sm2-max", EnvVars: []string{"KEYPORT_POOL_SM2_MAX"}, Usage: "SM2 pairs kept ready at most (default 4 × --pool-sm2)"},
			&cli.IntFlag{Name: "pool-rsa-large", Value: 2, EnvVars: []string{"KEYPORT_POOL_RSA_LARGE"}, Usage: "RSA-3072 and RSA-4096 wrapping key pairs kept ready, each, at least (up to 4 ×); 0: none, each made on its request"},
			&cli.IntFlag{Name: "keygen-parallelism", EnvVars: []string{"KEYPORT_KEYGEN_PARALLELISM"}, Usage: "key pairs generated at once, for the pool and requests together (default: one per CPU, at least 2)"},
			&cli.DurationFlag{Name: "import-token-ttl", Value: 24 * time.Hour, EnvVars: []string{"KEYPORT_IMPORT_TOKEN_TTL"}, Usage: "lifetime of import tokens"},
			&cli.StringFlag{Name: "metrics-listen", EnvVars: []string{"KEYPORT_METRICS_LISTEN"}, Usage: "serve GET /metrics (Prometheus) on this address instead of the main listener"},
			&cli.StringFlag{Name: "address-file", Usage: "write the bound address here once listening (for scripts using --listen 127.0.0.1:0)"},
			&cli.DurationFlag{Name: "secret-cache-ttl", Value: 30 * time.Second, EnvVars: []string{"KEYPORT_SECRET_CACHE_TTL"}, Usage: "how long an access key's secret stays unsealed in memory: the longest a credential disabled or deleted on another replica (or by the CLI) still works here"},
			&cli.BoolFlag{Name: "tencent-strict-signatures", EnvVars: []string{"KEYPORT_TENCENT_STRICT_SIGNATURES"}, Usage: "refuse Tencent Cloud requests whose signature leaves out X-TC-Action (the official SDKs and Terraform's provider do leave it out; Tencent Cloud accepts them, as Keyport does by default)"},
			&cli.StringFlag{Name: "trusted-proxies", EnvVars: []string{"KEYPORT_TRUSTED_PROXIES"}, Usage: "CIDRs or addresses of the load balancers in front: from them only, X-Forwarded-For/Forwarded name the client (for the failure guard, rate limits and the audit log)"},
			&cli.DurationFlag{Name: "min-version-interval", Value: 7 * 24 * time.Hour, EnvVars: []string{"KEYPORT_MIN_VERSION_INTERVAL"}, Usage: "least time between two versions of a key (CreateKeyVersion, automatic rotation), counted from the last one made; 0: none"},
			&cli.DurationFlag{Name: "orphan-grace", Value: 2 * time.Minute, EnvVars: []string{"KEYPORT_ORPHAN_GRACE"}, Usage: "with a shared store: how long a token object of this deployment must stay unrecorded before start-up reconcile destroys it"},
		),
		Action: serve,
	}
}

// checkServeConfig validates everything serve needs before anything is
// opened; `keyport check-config` runs just this.
func checkServeConfig(c *cli.Context) (hsm.Config, error) {
	cfg, err := hsmConfig(c)
	if err != nil {
		return cfg, err
	}
	if _, err := storeRefOf(c); err != nil {
		return cfg, err
	}
	warnUnverifiedStore(c.String("store"))
	if _, err := wire.ParseProxies(c.String("trusted-proxies")); err != nil {
		return cfg, usagef("--trusted-proxies: %v", err)
	}
	if c.Duration("min-version-interval") < 0 {
		return cfg, usagef("--min-version-interval must be 0 or more")
	}
	if c.Duration("orphan-grace") <= 0 || c.Duration("secret-cache-ttl") <= 0 {
		return cfg, usagef("--orphan-grace and --secret-cache-ttl must be positive")
	}
	if _, _, err := net.SplitHostPort(c.String("listen")); err != nil {
		return cfg, usagef("--listen %q: %v", c.String("listen"), err)
	}
	if m := c.String("metrics-listen"); m != "" {
		if _, _, err := net.SplitHostPort(m); err != nil {
			return cfg, usagef("--metrics-listen %q: %v", m, err)
		}
	}
	if p := c.String("audit-log"); p != "" {
		if fi, err := os.Stat(filepath.Dir(p)); err != nil || !fi.IsDir() {
			return cfg, fmt.Errorf("audit log %s: no directory %s to write it in", p, filepath.Dir(p))
		}
	}
	cert, key := c.String("tls-cert"), c.String("tls-key")
	if (cert == "") != (key == "") {
		return cfg, usagef("give --tls-cert and --tls-key together")
	}
	if cert != "" {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return cfg, fmt.Errorf("TLS certificate: %w", err)
		}
	} else if host, _, _ := net.SplitHostPort(c.String("listen")); !isLoopback(host) && !c.Bool("insecure-http") {
		return cfg, fmt.Errorf("refusing plain HTTP on %s, which is not loopback: signatures, key material and plaintexts would cross the network in the clear, "+
			"and a Tencent TC3 request carries no nonce, so a captured one can be replayed; give --tls-cert and --tls-key, or --insecure-http behind a TLS proxy on this host", c.String("listen"))
	}
	for _, f := range []string{"pool-rsa", "pool-rsa-max", "pool-sm2", "pool-sm2-max", "pool-rsa-large", "keygen-parallelism"} {
		if c.Int(f) < 0 {
			return cfg, usagef("--%s must be 0 or more", f)
		}
	}
	if c.Int("pool-rsa-max") > 0 && c.Int("pool-rsa-max") < c.Int("pool-rsa") || c.Int("pool-sm2-max") > 0 && c.Int("pool-sm2-max") < c.Int("pool-sm2") {
		return cfg, usagef("a pool's maximum must not be below its minimum")
	}
	if c.Float64("rate-limit") < 0 || c.Float64("auth-failure-limit") < 0 || c.Duration("import-token-ttl") <= 0 {
		return cfg, usagef("--rate-limit and --auth-failure-limit must be 0 or more and --import-token-ttl positive")
	}
	if l := c.String("log-level"); l != "" {
		if _, err := parseLogLevel(l); err != nil {
			return cfg, err
		}
	}
	if f := c.String("log-format"); f != "" && f != "text" && f != "json" {
		return cfg, usagef("--log-format %q: give text or json", f)
	}
	return cfg, nil
}

// isLoopback reports whether a listen host is reachable from this machine
// only: localhost or a loopback address (an empty host is every address).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkConfigCommand() *cli.Command {
	cmd := serveCommand()
	return &cli.Command{
		Name:  "check-config",
		Usage: "validate serve's flags and environment without opening the HSM or the store",
		Flags: cmd.Flags,
		Action: func(c *cli.Context) error {
			if err := applyConfigFile(c); err != nil {
				return err
			}
			if _, err := checkServeConfig(c); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, "configuration OK")
			return nil
		},
	}
}

func serve(c *cli.Context) error {
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := applyConfigFile(c); err != nil {
		return err
	}
	if err := setLogLevel(c); err != nil {
		return err
	}
	log := slog.Default()

	var dev *devEnv
	if c.Bool("dev") {
		var err error
		if dev, err = prepareDev(c); err != nil {
			return err
		}
	}
	cfg, err := checkServeConfig(c)
	if err != nil {
		return err
	}
	cfg.Logger = log
	m := metrics.New(version)
	cfg.OnSessionWait = m.SessionWait
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.String("listen"), err)
	}
	defer ln.Close()

	where, _ := storeRefOf(c)
	st, err := openServeStack(ctx, cfg, where, service.Options{
		PoolRSA: c.Int("pool-rsa"), PoolSM2: c.Int("pool-sm2"), PoolRSAMax: c.Int("pool-rsa-max"), PoolSM2Max: c.Int("pool-sm2-max"),
		PoolRSALarge: poolOrNone(c.Int("pool-rsa-large")), PoolParallelism: c.Int("keygen-parallelism"), ImportTokenTTL: c.Duration("import-token-ttl"), Logger: log,
		OrphanGrace: c.Duration("orphan-grace"), SecretCacheTTL: c.Duration("secret-cache-ttl"),
		MinVersionInterval: minVersionInterval(c.Duration("min-version-interval")),
	}, func(h *hsm.HSM) hsm.Token { return &timedToken{HSM: h, observe: m.HSMOperation} })
	if err != nil {
		return err
	}
	defer st.Close()

	// One limiter and one failure guard: an access key's rate and an
	// address's failures count across both dialects.
	limiter := wire.NewLimiter(c.Float64("rate-limit"), time.Now)
	guard := wire.NewAuthGuard(c.Float64("auth-failure-limit"), 20, time.Now)
	m.Watch(func(ctx context.Context) metrics.State { return metricsState(st.svc.Health(ctx)) })
	var auditLog *audit.Log
	if path := c.String("audit-log"); path != "" {
		if auditLog, err = audit.Open(path); err != nil {
			return err
		}
		defer auditLog.Close() // before the token closes (deferred earlier): the closing checkpoint is MACed in it
		dep, key, mac, err := st.svc.AuditKey(ctx)
		if err != nil {
			return err
		}
		// A checkpoint every 1,000 lines, and every 5 s while lines come.
		if err := auditLog.Checkpoints(audit.MACer{Deployment: dep, Key: string(key), MAC: mac}, 1000, 5*time.Second); err != nil {
			return err
		}
		st.svc.AlsoReady("audit log", auditLog.Ready)
		auditLog.OnFailure(st.svc.Recheck)
	}
	proxies, _ := wire.ParseProxies(c.String("trusted-proxies")) // checked by checkServeConfig
	common := wire.Common{Limiter: limiter, Guard: guard, Logger: log, OnAccess: m.Request, Proxies: proxies}
	aliyunCfg := aliyun.Config{Service: st.svc, Region: c.String("region"), AccountID: c.String("account-id"), Common: common}
	tencentCfg := tencent.Config{StrictSignatures: c.Bool("tencent-strict-signatures"), Service: st.svc, Region: c.String("tencent-region"), AccountID: c.String("account-id"), Common: common}
	var adminAudit server.AdminAudit
	if auditLog != nil {
		aliyunCfg.Audit, tencentCfg.Audit = auditLog, auditLog
		adminAudit = func(ctx context.Context, action, source string, run func() (string, error)) error {
			err := auditLog.Action(ctx, action, source, run, nil)
			if errors.Is(err, audit.ErrUnwritable) {
				return service.Unavailable(err, "recording the action")
			}
			return err
		}
	}
	if uses, ok := st.st.(store.Uses); ok {
		// Replicas share the nonces they accepted, so that a request
		// replayed to another replica is refused there too.
		record := func(ctx context.Context, credential string, digest [16]byte, until, now time.Time) (bool, error) {
			return uses.RecordUse(ctx, store.Use{Credential: credential, Value: digest, Until: until}, now)
		}
		aliyunCfg.Replays = wire.NewSharedReplays(record, aliyun.Skew, time.Now)
	}
	srvCfg := server.Config{Service: st.svc, Aliyun: aliyun.New(aliyunCfg), Tencent: tencent.New(tencentCfg), Metrics: m.Handler()}
	if host, _, _ := net.SplitHostPort(c.String("listen")); !isLoopback(host) && c.String("metrics-listen") == "" {
		// /metrics is unauthenticated: it says how busy the KMS is and what
		// it holds. Off loopback it is served only where the operator says.
		srvCfg.Metrics = nil
		log.Info("/metrics is not served on a listener off loopback; give --metrics-listen to serve it", "listen", c.String("listen"))
	}
	if addr := c.String("metrics-listen"); addr != "" {
		srvCfg.Metrics = nil
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", addr, err)
		}
		defer mln.Close()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		go func() {
			if err := server.Serve(ctx, mln, mux, nil, 5*time.Second, log); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("metrics listener", "err", err)
			}
		}()
	}
	handler := server.Handler(srvCfg)
	// The admin socket lets `keyport access-key` work while this process
	// holds an embedded store. Without it the server still serves; the CLI
	// then needs the server stopped. A database store needs none: the CLI
	// works on the database.
	if where.shared() {
		log.Info("store is shared by replicas", "database", st.st.(*postgres.Store).Target())
	} else if adminLn, err := server.ListenAdmin(where.dir); err != nil {
		log.Warn("no admin socket; access-key commands need the server stopped", "err", err)
	} else {
		adminCtx, cancelAdmin := context.WithCancel(ctx)
		adminDone := make(chan struct{})
		defer func() { cancelAdmin(); <-adminDone; os.Remove(adminLn.Addr().String()) }() // before the stack closes
		go func() {
			defer close(adminDone)
			if err := server.Serve(adminCtx, adminLn, server.AdminHandler(st.svc, adminAudit), nil, 10*time.Second, log); err != nil {
				log.Error("admin socket", "err", err)
			}
		}()
	}
	addr := ln.Addr().String()
	if f := c.String("address-file"); f != "" {
		if err := os.WriteFile(f, []byte(addr), 0o600); err != nil {
			return fmt.Errorf("address file: %w", err)
		}
	}
	scheme := "http"
	var cert *server.Certificate
	if c.String("tls-cert") != "" {
		scheme = "https"
		if cert, err = server.LoadCertificate(c.String("tls-cert"), c.String("tls-key")); err != nil {
			return err
		}
	}
	go reloadOnHangup(ctx, log, cert, auditLog)
	if dev != nil {
		if err := dev.announce(ctx, c, st.svc, scheme, addr); err != nil {
			return err
		}
	}
	log.Info("keyport serving", "address", addr, "scheme", scheme, "token", cfg.TokenLabel, "deployment", st.svc.Deployment())
	err = server.Serve(ctx, ln, handler, cert, 30*time.Second, log)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// reloadOnHangup loads the TLS certificate again and reopens the audit log
// on each SIGHUP (after a renewal, after logrotate), until ctx ends.
func reloadOnHangup(ctx context.Context, log *slog.Logger, cert *server.Certificate, auditLog *audit.Log) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if cert != nil {
			if err := cert.Reload(); err != nil {
				log.Error("SIGHUP: TLS certificate not reloaded; the previous one is served", "err", err)
			} else {
				log.Info("SIGHUP: TLS certificate reloaded")
			}
		}
		if auditLog != nil {
			if err := auditLog.Reopen(); err != nil {
				log.Error("SIGHUP: audit log not reopened; still writing the previous file", "err", err)
			} else {
				log.Info("SIGHUP: audit log reopened")
			}
		}
	}
}

// minVersionInterval is the service's option for the flag: 0 on the
// command line means no minimum, which the service spells negative.
func minVersionInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// poolOrNone reads a pool flag whose 0 means no pool as the option that
// says so (the options take 0 for their default).
func poolOrNone(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
