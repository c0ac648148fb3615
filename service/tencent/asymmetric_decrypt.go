package tencent

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

// AsymmetricRsaDecrypt, as tencentcloud-sdk-go shapes it: Ciphertext is
// the base64 of what the caller encrypted to GetPublicKey's key, with
// Algorithm RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.
// Tencent Cloud has no encrypt action: callers encrypt with the public key.

var rsaDecryptAlgorithms = map[string]service.EncryptionAlgorithm{
	"RSAES_PKCS1_V1_5":   service.EncRSAPKCS1v15,
	"RSAES_OAEP_SHA_1":   service.EncRSAOAEPSHA1,
	"RSAES_OAEP_SHA_256": service.EncRSAOAEPSHA256,
}

type asymmetricDecryptResponse struct {
	base
	KeyId     string `json:"KeyId"`
	Plaintext string `json:"Plaintext"`
}

func asymmetricRsaDecrypt(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req struct{ KeyId, Ciphertext, Algorithm *string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	name, err := required("Algorithm", req.Algorithm)
	if err != nil {
		return nil, err
	}
	alg, ok := rsaDecryptAlgorithms[name]
	if !ok {
		return nil, invalidParameter("Algorithm", "one of RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256")
	}
	ct, err := base64Param("Ciphertext", req.Ciphertext)
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: id, Algorithm: alg, Ciphertext: ct})
	if err != nil {
		return nil, err
	}
	return &asymmetricDecryptResponse{KeyId: res.KeyID, Plaintext: base64.StdEncoding.EncodeToString(res.Data)}, nil
}

// maxSM2Ciphertext is AsymmetricSm2Decrypt's documented limit on the
// ciphertext (C1C3C2, ASN.1).
const maxSM2Ciphertext = 256

func asymmetricSm2Decrypt(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req struct{ KeyId, Ciphertext *string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	ct, err := base64Param("Ciphertext", req.Ciphertext)
	if err != nil {
		return nil, err
	}
	if len(ct) > maxSM2Ciphertext {
		return nil, invalidParameter("Ciphertext", "at most 256 bytes")
	}
	res, err := h.cfg.Service.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: id, Algorithm: service.EncSM2PKE, Ciphertext: ct})
	if err != nil {
		return nil, err
	}
	return &asymmetricDecryptResponse{KeyId: res.KeyID, Plaintext: base64.StdEncoding.EncodeToString(res.Data)}, nil
}
