package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/service"
)

// userRoutes serves users, their policies and their access keys. Every
// change is recorded by rec, its target the user (and policy).
func userRoutes(mux *http.ServeMux, svc *service.Service, rec AdminAudit) {
	const source = "admin-socket"
	mux.HandleFunc("POST /v1/users/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		adminReply(w, struct{}{}, rec(r.Context(), "UserCreate", source, func() (string, error) {
			return name, svc.CreateUser(r.Context(), name)
		}))
	})
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		users, err := svc.ListUsers(r.Context())
		adminReply(w, users, err)
	})
	mux.HandleFunc("DELETE /v1/users/{name}", func(w http.ResponseWriter, r *http.Request) {
		name, force := r.PathValue("name"), r.URL.Query().Get("force") == "true"
		adminReply(w, struct{}{}, rec(r.Context(), "UserDelete", source, func() (string, error) {
			return name, svc.DeleteUser(r.Context(), name, force)
		}))
	})
	mux.HandleFunc("PUT /v1/users/{name}/policies/{policy}", func(w http.ResponseWriter, r *http.Request) {
		name, pol := r.PathValue("name"), r.PathValue("policy")
		doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, policy.MaxSize+1))
		if err != nil {
			adminReply(w, nil, &service.Error{Kind: service.KindInvalidParameter, Msg: fmt.Sprintf("the policy document is longer than %d bytes", policy.MaxSize)})
			return
		}
		adminReply(w, struct{}{}, rec(r.Context(), "UserPolicyPut", source, func() (string, error) {
			return name + "/" + pol, svc.PutUserPolicy(r.Context(), name, pol, doc)
		}))
	})
	mux.HandleFunc("GET /v1/users/{name}/policies/{policy}", func(w http.ResponseWriter, r *http.Request) {
		doc, err := svc.UserPolicy(r.Context(), r.PathValue("name"), r.PathValue("policy"))
		adminReply(w, doc, err)
	})
	mux.HandleFunc("DELETE /v1/users/{name}/policies/{policy}", func(w http.ResponseWriter, r *http.Request) {
		name, pol := r.PathValue("name"), r.PathValue("policy")
		adminReply(w, struct{}{}, rec(r.Context(), "UserPolicyDelete", source, func() (string, error) {
			return name + "/" + pol, svc.DeleteUserPolicy(r.Context(), name, pol)
		}))
	})
	mux.HandleFunc("POST /v1/users/{name}/access-keys", func(w http.ResponseWriter, r *http.Request) {
		var ak *service.NewAccessKey
		err := rec(r.Context(), "AccessKeyCreate", source, func() (string, error) {
			var err error
			if ak, err = svc.CreateUserAccessKey(r.Context(), r.PathValue("name")); err != nil {
				return "", err
			}
			return ak.AccessKeyID, nil
		})
		adminReply(w, ak, err)
	})
}

func userPath(name string) string { return "/v1/users/" + url.PathEscape(name) }

// CreateUser makes a user with no rights on the running server.
func (c *AdminClient) CreateUser(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodPost, userPath(name), &struct{}{})
}

// ListUsers lists users with their policies and access keys.
func (c *AdminClient) ListUsers(ctx context.Context) ([]service.User, error) {
	var users []service.User
	return users, c.call(ctx, http.MethodGet, "/v1/users", &users)
}

// DeleteUser deletes a user; with force, its access keys too.
func (c *AdminClient) DeleteUser(ctx context.Context, name string, force bool) error {
	q := ""
	if force {
		q = "?force=true"
	}
	return c.call(ctx, http.MethodDelete, userPath(name)+q, &struct{}{})
}

// PutUserPolicy gives a user a named policy.
func (c *AdminClient) PutUserPolicy(ctx context.Context, user, name string, doc []byte) error {
	return c.send(ctx, http.MethodPut, userPath(user)+"/policies/"+url.PathEscape(name), doc, &struct{}{})
}

// UserPolicy returns one of a user's policies as written.
func (c *AdminClient) UserPolicy(ctx context.Context, user, name string) (string, error) {
	var doc string
	return doc, c.call(ctx, http.MethodGet, userPath(user)+"/policies/"+url.PathEscape(name), &doc)
}

// DeleteUserPolicy takes a policy from a user.
func (c *AdminClient) DeleteUserPolicy(ctx context.Context, user, name string) error {
	return c.call(ctx, http.MethodDelete, userPath(user)+"/policies/"+url.PathEscape(name), &struct{}{})
}

// CreateUserAccessKey makes a credential of user.
func (c *AdminClient) CreateUserAccessKey(ctx context.Context, user string) (*service.NewAccessKey, error) {
	var ak service.NewAccessKey
	return &ak, c.call(ctx, http.MethodPost, userPath(user)+"/access-keys", &ak)
}
