package tencent

import (
	"context"
	"encoding/base64"
	"encoding/pem"

	"github.com/keyport-kms/keyport/service"
)

// SignByAsymmetricKey, VerifyByAsymmetricKey and GetPublicKey, as
// tencentcloud-sdk-go's structs shape them. MessageType RAW (the default)
// signs the digest of Message, at most 4,096 bytes: its SHA-256, or for
// SM2DSA SM3(Z_A ‖ Message) with the default user id; DIGEST signs Message
// itself, that 32-byte digest.

// signAlgorithms are Tencent Cloud's names of the algorithms.
var signAlgorithms = map[string]service.SignAlgorithm{
	"RSA_PSS_SHA_256":   service.SignRSAPSSSHA256,
	"RSA_PKCS1_SHA_256": service.SignRSAPKCS1SHA256,
	"ECC_P256_R1":       service.SignECDSASHA256,
	"SM2DSA":            service.SignSM2DSA,
}

// maxSignedMessage is the documented limit of a RAW message.
const maxSignedMessage = 4096

type signRequest struct {
	KeyId, Algorithm, Message, MessageType, SignatureValue *string
}

// signingInput reads what both actions share: the key, the algorithm, and
// the digest to sign or check, or the message whose digest it is.
func signingInput(body []byte) (req signRequest, id string, alg service.SignAlgorithm, digest, message []byte, err error) {
	if err = decode(body, &req); err != nil {
		return
	}
	if id, err = keyID(req.KeyId); err != nil {
		return
	}
	name, err := required("Algorithm", req.Algorithm)
	if err != nil {
		return
	}
	alg, ok := signAlgorithms[name]
	if !ok {
		err = invalidParameter("Algorithm", "one of RSA_PSS_SHA_256, RSA_PKCS1_SHA_256, ECC_P256_R1, SM2DSA")
		return
	}
	msg, err := base64Param("Message", req.Message)
	if err != nil {
		return
	}
	switch str(req.MessageType) {
	case "", "RAW":
		if len(msg) > maxSignedMessage {
			err = invalidParameter("Message", "at most 4096 bytes")
			return
		}
		message = msg
	case "DIGEST":
		digest = msg
	default:
		err = invalidParameter("MessageType", "RAW or DIGEST")
	}
	return req, id, alg, digest, message, err
}

type signResponse struct {
	base
	Signature string `json:"Signature"`
}

func signByAsymmetricKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	_, id, alg, digest, message, err := signingInput(body)
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.Sign(ctx, service.SignRequest{KeyID: id, Algorithm: alg, Digest: digest, Message: message})
	if err != nil {
		return nil, err
	}
	return &signResponse{Signature: base64.StdEncoding.EncodeToString(res.Signature)}, nil
}

type verifyResponse struct {
	base
	SignatureValid bool `json:"SignatureValid"`
}

func verifyByAsymmetricKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	req, id, alg, digest, message, err := signingInput(body)
	if err != nil {
		return nil, err
	}
	sig, err := base64Param("SignatureValue", req.SignatureValue)
	if err != nil {
		return nil, err
	}
	ok, _, err := h.cfg.Service.Verify(ctx, service.VerifyRequest{KeyID: id, Algorithm: alg, Digest: digest, Message: message, Signature: sig})
	if err != nil {
		return nil, err
	}
	return &verifyResponse{SignatureValid: ok}, nil
}

type publicKeyResponse struct {
	base
	KeyId        string `json:"KeyId"`
	PublicKey    string `json:"PublicKey"`    // base64 of the DER SubjectPublicKeyInfo
	PublicKeyPem string `json:"PublicKeyPem"` // the same, PEM
}

func getPublicKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req struct{ KeyId *string }
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	pk, err := h.cfg.Service.PublicKeyOf(ctx, id, "")
	if err != nil {
		return nil, err
	}
	return &publicKeyResponse{KeyId: pk.KeyID, PublicKey: base64.StdEncoding.EncodeToString(pk.DER),
		PublicKeyPem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk.DER}))}, nil
}
