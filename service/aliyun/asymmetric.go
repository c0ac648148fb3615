package aliyun

import (
	"context"
	"encoding/base64"
	"encoding/pem"

	"github.com/keyport-kms/keyport/service"
)

// The asymmetric actions, as the SDK's AsymmetricSign, AsymmetricVerify
// and GetPublicKey structs shape them. Digest is the base64 of a digest
// the caller computed (SHA-256; for SM2DSA SM3(Z_A ‖ M) with the default
// user id); Value is the base64 signature (ASN.1 DER for ECDSA and SM2DSA,
// as openssl reads it).

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
	var name string
	if id, version, name, err = p.keyVersionAlgorithm(); err != nil {
		return
	}
	digest, err = p.base64("Digest")
	return id, version, service.SignAlgorithm(name), digest, err
}

// keyVersionAlgorithm reads KeyId, KeyVersionId and Algorithm, which every
// asymmetric action but GetPublicKey requires.
func (p params) keyVersionAlgorithm() (id, version, alg string, err error) {
	if id, err = p.required("KeyId"); err != nil {
		return
	}
	if version, err = p.required("KeyVersionId"); err != nil {
		return
	}
	alg, err = p.required("Algorithm")
	return
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

// encryptionAlgorithms are AsymmetricEncrypt's and AsymmetricDecrypt's
// algorithms (the service also knows Tencent Cloud's RSAES_PKCS1_V1_5,
// which Alibaba Cloud does not offer here).
var encryptionAlgorithms = map[string]service.EncryptionAlgorithm{
	"RSAES_OAEP_SHA_256": service.EncRSAOAEPSHA256,
	"RSAES_OAEP_SHA_1":   service.EncRSAOAEPSHA1,
	"SM2PKE":             service.EncSM2PKE,
}

// asymmetricCipherParams are the fields AsymmetricEncrypt and
// AsymmetricDecrypt share, all required as the API reference marks them,
// and the base64 field data names (Plaintext or CiphertextBlob).
func asymmetricCipherParams(p params, data string) (id, version string, alg service.EncryptionAlgorithm, b []byte, err error) {
	var name string
	if id, version, name, err = p.keyVersionAlgorithm(); err != nil {
		return
	}
	var ok bool
	if alg, ok = encryptionAlgorithms[name]; !ok {
		err = invalidParameter("Algorithm", "must be RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or SM2PKE")
		return
	}
	b, err = p.base64(data)
	return id, version, alg, b, err
}

type asymmetricEncryptResponse struct {
	base
	KeyId          string `json:"KeyId" xml:"KeyId"`
	KeyVersionId   string `json:"KeyVersionId" xml:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
}

func asymmetricEncrypt(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, version, alg, pt, err := asymmetricCipherParams(p, "Plaintext")
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.AsymmetricEncrypt(ctx, service.AsymmetricEncryptRequest{KeyID: id, KeyVersionID: version, Algorithm: alg, Plaintext: pt})
	if err != nil {
		return nil, err
	}
	return &asymmetricEncryptResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID, CiphertextBlob: base64.StdEncoding.EncodeToString(res.Data)}, nil
}

type asymmetricDecryptResponse struct {
	base
	KeyId        string `json:"KeyId" xml:"KeyId"`
	KeyVersionId string `json:"KeyVersionId" xml:"KeyVersionId"`
	Plaintext    string `json:"Plaintext" xml:"Plaintext"`
}

func asymmetricDecrypt(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, version, alg, ct, err := asymmetricCipherParams(p, "CiphertextBlob")
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: id, KeyVersionID: version, Algorithm: alg, Ciphertext: ct})
	if err != nil {
		return nil, err
	}
	return &asymmetricDecryptResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID, Plaintext: base64.StdEncoding.EncodeToString(res.Data)}, nil
}
