package aliyun

import (
	"context"
	"encoding/base64"
	"encoding/pem"

	"github.com/keyport-kms/keyport/service"
)

// The asymmetric actions, as the SDK's AsymmetricSign, AsymmetricVerify
// and GetPublicKey structs shape them. Digest is the base64 of a SHA-256
// digest the caller computed; Value is the base64 signature (ASN.1 DER
// for ECDSA, as openssl reads it).

type signResponse struct {
	base
	KeyId        string `json:"KeyId" xml:"KeyId"`
	KeyVersionId string `json:"KeyVersionId" xml:"KeyVersionId"`
	Value        string `json:"Value" xml:"Value"`
}

func asymmetricSign(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, version, alg, digest, err := signingParams(p)
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.Sign(ctx, service.SignRequest{KeyID: id, KeyVersionID: version, Algorithm: alg, Digest: digest})
	if err != nil {
		return nil, err
	}
	return &signResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID, Value: base64.StdEncoding.EncodeToString(res.Signature)}, nil
}

type verifyResponse struct {
	base
	KeyId        string `json:"KeyId" xml:"KeyId"`
	KeyVersionId string `json:"KeyVersionId" xml:"KeyVersionId"`
	Value        bool   `json:"Value" xml:"Value"`
}

func asymmetricVerify(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, version, alg, digest, err := signingParams(p)
	if err != nil {
		return nil, err
	}
	sig, err := p.base64("Value")
	if err != nil {
		return nil, err
	}
	ok, key, err := h.cfg.Service.Verify(ctx, service.VerifyRequest{KeyID: id, KeyVersionID: version, Algorithm: alg, Digest: digest, Signature: sig})
	if err != nil {
		return nil, err
	}
	return &verifyResponse{KeyId: key.KeyID, KeyVersionId: key.KeyVersionID, Value: ok}, nil
}

// signingParams are the fields AsymmetricSign and AsymmetricVerify share,
// all required as the API reference marks them.
func signingParams(p params) (id, version string, alg service.SignAlgorithm, digest []byte, err error) {
	if id, err = p.required("KeyId"); err != nil {
		return
	}
	if version, err = p.required("KeyVersionId"); err != nil {
		return
	}
	var a string
	if a, err = p.required("Algorithm"); err != nil {
		return
	}
	digest, err = p.base64("Digest")
	return id, version, service.SignAlgorithm(a), digest, err
}

type publicKeyResponse struct {
	base
	KeyId        string `json:"KeyId" xml:"KeyId"`
	KeyVersionId string `json:"KeyVersionId" xml:"KeyVersionId"`
	PublicKey    string `json:"PublicKey" xml:"PublicKey"`
}

func getPublicKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	version, err := p.required("KeyVersionId")
	if err != nil {
		return nil, err
	}
	pk, err := h.cfg.Service.PublicKeyOf(ctx, id, version)
	if err != nil {
		return nil, err
	}
	pemText := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk.DER})
	return &publicKeyResponse{KeyId: pk.KeyID, KeyVersionId: pk.KeyVersionID, PublicKey: string(pemText)}, nil
}
