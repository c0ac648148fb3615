// Package client calls Keyport, or the cloud KMS it imitates, in either
// API dialect: the few actions a BYOK user and a load generator need,
// signed with the very code the server verifies with. `keyport bench` and
// `keyport import` use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/ids"
	"github.com/keyport-kms/keyport/sign"
)

// Dialect names an API.
type Dialect string

const (
	Aliyun  Dialect = "aliyun"  // Alibaba Cloud KMS 2016-01-20, RPC signature v1
	Tencent Dialect = "tencent" // Tencent Cloud KMS 2019-01-18, TC3-HMAC-SHA256
)

// The API versions the client speaks: the clouds' published ones, which
// the server's dialects serve too.
const (
	aliyunAPIVersion  = "2016-01-20"
	tencentAPIVersion = "2019-01-18"
)

// Config says where and as whom to call.
type Config struct {
	Endpoint     string // http(s)://host[:port]; a bare host means https
	Dialect      Dialect
	AccessKeyID  string // Tencent: SecretId
	Secret       string // Tencent: SecretKey
	Region       string // default cn-hangzhou (Aliyun), ap-guangzhou (Tencent)
	HTTP         *http.Client
	TencentScope string // the credential scope's service; default "kms"
}

// Client calls one endpoint. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
}

// New checks cfg and makes a Client.
func New(cfg Config) (*Client, error) {
	if cfg.AccessKeyID == "" || cfg.Secret == "" {
		return nil, fmt.Errorf("no credentials: give the AccessKeyId and its secret")
	}
	if !strings.Contains(cfg.Endpoint, "://") {
		cfg.Endpoint = "https://" + cfg.Endpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("endpoint %q is not http(s)://host[:port]", cfg.Endpoint)
	}
	switch cfg.Dialect {
	case Aliyun:
		if cfg.Region == "" {
			cfg.Region = "cn-hangzhou"
		}
	case Tencent:
		if cfg.Region == "" {
			cfg.Region = "ap-guangzhou"
		}
		if cfg.TencentScope == "" {
			cfg.TencentScope = "kms"
		}
	default:
		return nil, fmt.Errorf("dialect %q: use aliyun or tencent", cfg.Dialect)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	}
	return &Client{cfg: cfg, base: u}, nil
}

// Dialect is the dialect the client speaks.
func (c *Client) Dialect() Dialect { return c.cfg.Dialect }

// APIError is an error the server answered with.
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (request %s)", e.Code, e.Message, e.RequestID)
}

// Call sends action with params and decodes the answer's fields into out.
func (c *Client) Call(ctx context.Context, action string, params map[string]any, out any) error {
	var req *http.Request
	var err error
	if c.cfg.Dialect == Aliyun {
		req, err = c.aliyunRequest(ctx, action, params)
	} else {
		req, err = c.tencentRequest(ctx, action, params)
	}
	if err != nil {
		return err
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if c.cfg.Dialect == Aliyun {
		return decodeAliyun(resp.StatusCode, body, out)
	}
	return decodeTencent(resp.StatusCode, body, out)
}

func (c *Client) aliyunRequest(ctx context.Context, action string, params map[string]any) (*http.Request, error) {
	p := map[string]string{
		"Action": action, "Version": aliyunAPIVersion, "Format": "JSON", "RegionId": c.cfg.Region,
		"AccessKeyId": c.cfg.AccessKeyID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"SignatureNonce": ids.NewUUID(), "Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
	}
	for k, v := range params {
		p[k] = fmt.Sprint(v)
	}
	p["Signature"] = sign.RPC(http.MethodPost, c.cfg.Secret, p)
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func (c *Client) tencentRequest(ctx context.Context, action string, params map[string]any) (*http.Request, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", tencentAPIVersion)
	req.Header.Set("X-TC-Region", c.cfg.Region)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("Authorization", sign.TC3Authorization(c.cfg.AccessKeyID, c.cfg.Secret, c.cfg.TencentScope, req, body))
	return req, nil
}

func decodeAliyun(status int, body []byte, out any) error {
	if status != http.StatusOK {
		var e struct{ Code, Message, RequestId string }
		if json.Unmarshal(body, &e) != nil || e.Code == "" {
			return &APIError{Status: status, Code: "HTTP" + strconv.Itoa(status), Message: strings.TrimSpace(string(body))}
		}
		return &APIError{Status: status, Code: e.Code, Message: e.Message, RequestID: e.RequestId}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

func decodeTencent(status int, body []byte, out any) error {
	var env struct {
		Response json.RawMessage
	}
	if json.Unmarshal(body, &env) != nil || env.Response == nil {
		return &APIError{Status: status, Code: "HTTP" + strconv.Itoa(status), Message: strings.TrimSpace(string(body))}
	}
	var e struct {
		Error     *struct{ Code, Message string }
		RequestId string
	}
	_ = json.Unmarshal(env.Response, &e)
	if e.Error != nil {
		return &APIError{Status: status, Code: e.Error.Code, Message: e.Error.Message, RequestID: e.RequestId}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Response, out)
}
