package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/ids"
)

// The actions, each mapping the dialects' names. Byte fields travel as
// base64, as both APIs want.

// CreateKey makes an AES-256 key: EXTERNAL (to import into) or with
// material made by the KMS; hsm asks for HSM protection.
func (c *Client) CreateKey(ctx context.Context, external, hsm bool) (string, error) {
	if c.cfg.Dialect == Aliyun {
		p := map[string]any{"KeySpec": "Aliyun_AES_256", "Origin": "Aliyun_KMS", "ProtectionLevel": "SOFTWARE"}
		if external {
			p["Origin"] = "EXTERNAL"
		}
		if hsm {
			p["ProtectionLevel"] = "HSM"
		}
		var out struct{ KeyMetadata struct{ KeyId string } }
		err := c.Call(ctx, "CreateKey", p, &out)
		return out.KeyMetadata.KeyId, err
	}
	p := map[string]any{"Alias": "kp-" + ids.NewUUID()[:13], "Type": 1}
	if external {
		p["Type"] = 2
	}
	if hsm {
		p["HsmClusterId"] = "keyport-hsm"
	}
	var out struct{ KeyId string }
	err := c.Call(ctx, "CreateKey", p, &out)
	return out.KeyId, err
}

// Encrypt encrypts plaintext under keyID and returns the ciphertext blob.
func (c *Client) Encrypt(ctx context.Context, keyID string, plaintext []byte) (string, error) {
	var out struct{ CiphertextBlob string }
	err := c.Call(ctx, "Encrypt", map[string]any{"KeyId": keyID, "Plaintext": base64.StdEncoding.EncodeToString(plaintext)}, &out)
	return out.CiphertextBlob, err
}

// Decrypt returns the plaintext of a ciphertext blob.
func (c *Client) Decrypt(ctx context.Context, blob string) ([]byte, error) {
	var out struct{ Plaintext string }
	if err := c.Call(ctx, "Decrypt", map[string]any{"CiphertextBlob": blob}, &out); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(out.Plaintext)
}

// GenerateDataKey returns a 32-byte data key and its blob under keyID.
func (c *Client) GenerateDataKey(ctx context.Context, keyID string) ([]byte, string, error) {
	var out struct{ Plaintext, CiphertextBlob string }
	if err := c.Call(ctx, "GenerateDataKey", map[string]any{"KeyId": keyID, "KeySpec": "AES_256"}, &out); err != nil {
		return nil, "", err
	}
	dk, err := base64.StdEncoding.DecodeString(out.Plaintext)
	return dk, out.CiphertextBlob, err
}

// ImportParameters are a wrapping public key (DER) and its import token.
type ImportParameters struct {
	PublicKey   []byte
	ImportToken string
}

// GetParametersForImport asks for a wrapping key of spec for algorithm.
func (c *Client) GetParametersForImport(ctx context.Context, keyID, spec, algorithm string) (*ImportParameters, error) {
	var out struct{ PublicKey, ImportToken string }
	err := c.Call(ctx, "GetParametersForImport", map[string]any{"KeyId": keyID, "WrappingKeySpec": spec, "WrappingAlgorithm": algorithm}, &out)
	if err != nil {
		return nil, err
	}
	der, err := base64.StdEncoding.DecodeString(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("PublicKey is not base64: %w", err)
	}
	return &ImportParameters{PublicKey: der, ImportToken: out.ImportToken}, nil
}

// ImportKeyMaterial imports wrapped material with an import token; expires
// zero means the material never expires.
func (c *Client) ImportKeyMaterial(ctx context.Context, keyID, token string, wrapped []byte, expires time.Time) error {
	p := map[string]any{"KeyId": keyID, "ImportToken": token, "EncryptedKeyMaterial": base64.StdEncoding.EncodeToString(wrapped)}
	exp := int64(0)
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	if c.cfg.Dialect == Aliyun {
		if exp != 0 {
			p["KeyMaterialExpireUnix"] = strconv.FormatInt(exp, 10)
		}
	} else {
		p["ValidTo"] = exp
	}
	return c.Call(ctx, "ImportKeyMaterial", p, nil)
}

// Import is the whole BYOK flow for material: parameters, wrapping here
// (RSA with crypto/rsa, SM2PKE with gmsm), import.
func (c *Client) Import(ctx context.Context, keyID, spec, algorithm string, material []byte, expires time.Time) error {
	p, err := c.GetParametersForImport(ctx, keyID, spec, algorithm)
	if err != nil {
		return err
	}
	wrapped, err := byok.Wrap(p.PublicKey, algorithm, material)
	if err != nil {
		return fmt.Errorf("wrap the material: %w", err)
	}
	return c.ImportKeyMaterial(ctx, keyID, p.ImportToken, wrapped, expires)
}

// KeyState is the key's state as the dialect names it.
func (c *Client) KeyState(ctx context.Context, keyID string) (string, error) {
	var out struct{ KeyMetadata struct{ KeyState string } }
	err := c.Call(ctx, "DescribeKey", map[string]any{"KeyId": keyID}, &out)
	return out.KeyMetadata.KeyState, err
}

// Healthz is a GET /healthz: a request that does no work, the baseline
// against which Keyport's own requests are measured.
func (c *Client) Healthz(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	// Read the body before closing it, or the connection is not reused and
	// every probe pays a new connection (a no-op baseline a quarter of the
	// real one).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &APIError{Status: resp.StatusCode, Code: "HTTP" + strconv.Itoa(resp.StatusCode)}
	}
	return nil
}
