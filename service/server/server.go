// Package server is Keyport's one HTTP listener: it routes each request to
// the API dialect that signed it, answers health checks, and shuts down
// gracefully.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/aliyun"
)

// Config wires the listener.
type Config struct {
	Service *service.Service
	Aliyun  http.Handler
	Tencent http.Handler // requests carrying X-TC-Action; nil refuses them
	Metrics http.Handler // GET /metrics; nil serves none here
}

// Handler routes: GET /healthz and /readyz, GET /metrics if given, and every other request to its
// dialect: X-TC-Action → Tencent Cloud; otherwise Alibaba Cloud, which tells
// ACS3 from RPC v1 itself.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, "ok", "")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		// At most HealthMaxAge old: a flood of probes costs the token two
		// probes a second.
		if err := cfg.Service.Health(ctx).Ready; err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "not ready", service.PublicMessage(err))
			return
		}
		writeStatus(w, http.StatusOK, "ready", "")
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("X-TC-Action") != "" && !aliyun.IsACS3(r):
			if cfg.Tencent == nil {
				writeStatus(w, http.StatusNotImplemented, "error", "the Tencent Cloud API is not served")
				return
			}
			cfg.Tencent.ServeHTTP(w, r)
		default:
			cfg.Aliyun.ServeHTTP(w, r)
		}
	})
	return mux
}

func writeStatus(w http.ResponseWriter, status int, state, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": state, "reason": reason})
}

// Serve serves h on ln until ctx ends, then lets in-flight requests finish
// (up to grace) before returning. TLS is used when cert is set.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cert *Certificate, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	if cert != nil {
		srv.TLSConfig = cert.TLSConfig()
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: letting in-flight requests finish")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
