package tencent

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type generateRandomRequest struct {
	NumberOfBytes *uint64
}

type generateRandomResponse struct {
	base
	Plaintext string `json:"Plaintext"`
}

func generateRandom(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	if err := h.cfg.Service.Authorize(ctx); err != nil {
		return nil, err
	}
	var req generateRandomRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.NumberOfBytes == nil {
		return nil, missingParameter("NumberOfBytes")
	}
	if *req.NumberOfBytes < 1 || *req.NumberOfBytes > service.MaxDataKeyBytes {
		return nil, invalidParameter("NumberOfBytes", "from 1 to 1024")
	}
	b := make([]byte, *req.NumberOfBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &generateRandomResponse{Plaintext: base64.StdEncoding.EncodeToString(b)}, nil
}

type getServiceStatusResponse struct {
	base
	ServiceEnabled      bool   `json:"ServiceEnabled"`
	InvalidType         int64  `json:"InvalidType"`
	UserLevel           uint64 `json:"UserLevel"`
	ExclusiveHSMEnabled bool   `json:"ExclusiveHSMEnabled"`
}

// getServiceStatus: the service is on; UserLevel 1 (flagship) says HSM
// keys are available, and Keyport's HSM is the user's own.
func getServiceStatus(ctx context.Context, h *Handler, _ []byte) (withRequestID, error) {
	if err := h.cfg.Service.Authorize(ctx); err != nil {
		return nil, err
	}
	return &getServiceStatusResponse{ServiceEnabled: true, UserLevel: 1, ExclusiveHSMEnabled: true}, nil
}

type algorithmInfo struct {
	KeyUsage  string `json:"KeyUsage"`
	Algorithm string `json:"Algorithm"`
}

type listAlgorithmsResponse struct {
	base
	SymmetricAlgorithms            []algorithmInfo `json:"SymmetricAlgorithms"`
	AsymmetricAlgorithms           []algorithmInfo `json:"AsymmetricAlgorithms"`
	AsymmetricSignVerifyAlgorithms []algorithmInfo `json:"AsymmetricSignVerifyAlgorithms"`
}

// listAlgorithms names the key kinds CreateKey makes.
func listAlgorithms(ctx context.Context, h *Handler, _ []byte) (withRequestID, error) {
	if err := h.cfg.Service.Authorize(ctx); err != nil {
		return nil, err
	}
	return &listAlgorithmsResponse{
		SymmetricAlgorithms:            []algorithmInfo{{KeyUsage: usageEncryptDecrypt, Algorithm: "SYMMETRIC_AES256"}, {KeyUsage: usageEncryptDecrypt, Algorithm: "SM4"}},
		AsymmetricAlgorithms:           []algorithmInfo{{KeyUsage: "ASYMMETRIC_DECRYPT_RSA_2048", Algorithm: "RSA_2048"}, {KeyUsage: "ASYMMETRIC_DECRYPT_SM2", Algorithm: "SM2"}},
		AsymmetricSignVerifyAlgorithms: []algorithmInfo{{KeyUsage: "ASYMMETRIC_SIGN_VERIFY_RSA_2048", Algorithm: "RSA_2048"}, {KeyUsage: "ASYMMETRIC_SIGN_VERIFY_ECC", Algorithm: "ECC"}, {KeyUsage: "ASYMMETRIC_SIGN_VERIFY_SM2", Algorithm: "SM2"}},
	}, nil
}
