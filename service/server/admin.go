package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/keyport-kms/keyport/service"
)

// AdminSocket is the path, under the data directory, of the running
// server's admin socket: a Unix socket through which the CLI manages access
// keys while the server holds the store. It sits in a directory only the
// server's user may enter, made before the socket exists (so there is no
// moment when another user could connect), and every connection's peer
// must be the server's own user (SO_PEERCRED).
const AdminSocket = "admin/keyport.sock"

// AdminAudit records an admin action done through the socket: run, then
// its line (audit.Log.Action); nil records nothing.
type AdminAudit func(ctx context.Context, action, source string, run func() (target string, err error)) error

// AdminHandler serves the management of access keys, users and their
// policies on the admin socket, each
// change recorded by rec.
func AdminHandler(svc *service.Service, rec AdminAudit) http.Handler {
	if rec == nil {
		rec = func(_ context.Context, _, _ string, run func() (string, error)) error { _, err := run(); return err }
	}
	const source = "admin-socket"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/access-keys", func(w http.ResponseWriter, r *http.Request) {
		var ak *service.NewAccessKey
		err := rec(r.Context(), "AccessKeyCreate", source, func() (string, error) {
			var err error
			if ak, err = svc.CreateAccessKey(r.Context()); err != nil {
				return "", err
			}
			return ak.AccessKeyID, nil
		})
		adminReply(w, ak, err)
	})
	mux.HandleFunc("GET /v1/access-keys", func(w http.ResponseWriter, r *http.Request) {
		keys, err := svc.ListAccessKeys(r.Context())
		adminReply(w, keys, err)
	})
	mux.HandleFunc("POST /v1/access-keys/{id}/{change}", func(w http.ResponseWriter, r *http.Request) {
		var disabled bool
		action := "AccessKeyEnable"
		switch r.PathValue("change") {
		case "disable":
			disabled, action = true, "AccessKeyDisable"
		case "enable":
		default:
			http.NotFound(w, r)
			return
		}
		id := r.PathValue("id")
		adminReply(w, struct{}{}, rec(r.Context(), action, source, func() (string, error) {
			return id, svc.SetAccessKeyDisabled(r.Context(), id, disabled)
		}))
	})
	mux.HandleFunc("DELETE /v1/access-keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		adminReply(w, struct{}{}, rec(r.Context(), "AccessKeyDelete", source, func() (string, error) {
			return id, svc.DeleteAccessKey(r.Context(), id)
		}))
	})
	mux.HandleFunc("GET /v1/store/snapshot", func(w http.ResponseWriter, r *http.Request) {
		// A large store takes longer than the socket's write timeout to copy.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		started := false
		err := rec(r.Context(), "StoreBackup", source, func() (string, error) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, err := svc.WriteSnapshot(r.Context(), &startWriter{w: w, started: &started})
			return "", err
		})
		switch {
		case err != nil && !started:
			adminReply(w, nil, err)
		case err != nil:
			// Past the first byte only a broken connection says it failed:
			// a stream that ended cleanly would read as a whole copy.
			panic(http.ErrAbortHandler)
		}
	})
	userRoutes(mux, svc, rec)
	return mux
}

// startWriter notes whether anything was written, after which an error can
// no longer be answered with a status.
type startWriter struct {
	w       io.Writer
	started *bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	*s.started = true
	return s.w.Write(p)
}

type adminError struct {
	Kind    int    `json:"kind"`
	Message string `json:"message"`
}

func adminReply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(adminError{Kind: int(service.KindOf(err)), Message: service.PublicMessage(err)})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// ListenAdmin opens the admin socket under dataDir, replacing a stale one
// (a live server would hold the store, and this one could not have opened
// it).
func ListenAdmin(dataDir string) (net.Listener, error) {
	path := filepath.Join(dataDir, AdminSocket)
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return &ownerOnly{Listener: ln}, nil
}

// privateDir makes dir, or checks the one there: a real directory (not a
// link), owned by this process's user, mode 0700.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if owner, ok := fileOwner(fi); ok && owner != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to this process's user", dir, owner)
	}
	return os.Chmod(dir, 0o700)
}

// ownerOnly accepts only connections whose peer runs as this process's
// user, and closes the others unanswered.
type ownerOnly struct{ net.Listener }

func (l *ownerOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if uid, ok := peerUID(c); !peerCredChecked || (ok && uid == os.Getuid()) {
			return c, nil
		}
		c.Close()
	}
}

// ErrNoServer says no server answers on the admin socket.
var ErrNoServer = errors.New("no running server")

// AdminClient manages access keys through a running server's admin socket.
type AdminClient struct{ http *http.Client }

// DialAdmin connects to the server running on dataDir, or returns
// ErrNoServer when none is.
func DialAdmin(dataDir string) (*AdminClient, error) {
	path := filepath.Join(dataDir, AdminSocket)
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, ErrNoServer
	}
	conn.Close()
	return &AdminClient{http: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}},
	}}, nil
}

func (c *AdminClient) call(ctx context.Context, method, path string, out any) error {
	return c.send(ctx, method, path, nil, out)
}

// send is call with a request body.
func (c *AdminClient) send(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://keyport"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(resp.Status, answer)
	}
	return json.Unmarshal(answer, out)
}

// statusError is the service error an admin answer other than 200 carries.
func statusError(status string, answer []byte) error {
	var e adminError
	if json.Unmarshal(answer, &e) != nil {
		return fmt.Errorf("admin socket: %s", status)
	}
	return &service.Error{Kind: service.Kind(e.Kind), Msg: e.Message}
}

// CreateAccessKey makes a credential on the running server.
func (c *AdminClient) CreateAccessKey(ctx context.Context) (*service.NewAccessKey, error) {
	var ak service.NewAccessKey
	return &ak, c.call(ctx, http.MethodPost, "/v1/access-keys", &ak)
}

// ListAccessKeys lists credentials.
func (c *AdminClient) ListAccessKeys(ctx context.Context) ([]service.AccessKey, error) {
	var keys []service.AccessKey
	return keys, c.call(ctx, http.MethodGet, "/v1/access-keys", &keys)
}

// SetAccessKeyDisabled disables or re-enables a credential.
func (c *AdminClient) SetAccessKeyDisabled(ctx context.Context, id string, disabled bool) error {
	change := "enable"
	if disabled {
		change = "disable"
	}
	return c.call(ctx, http.MethodPost, "/v1/access-keys/"+url.PathEscape(id)+"/"+change, &struct{}{})
}

// DeleteAccessKey deletes a credential.
func (c *AdminClient) DeleteAccessKey(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/access-keys/"+url.PathEscape(id), &struct{}{})
}

// Snapshot copies the running server's store to w (store backup). It has no
// timeout of its own: a large store takes as long as it takes, and ctx ends
// it.
func (c *AdminClient) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://keyport/v1/store/snapshot", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return 0, statusError(resp.Status, answer)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("admin socket: snapshot cut short after %d bytes: %w", n, err)
	}
	return n, nil
}
