package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/hsm"
)

// tokenFlags locate the module and token and say how to log in. Every
// command that opens the token shares them.
func tokenFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "module", EnvVars: []string{"KEYPORT_PKCS11_MODULE"}, Usage: "path of the PKCS#11 library"},
		&cli.StringFlag{Name: "token-label", EnvVars: []string{"KEYPORT_TOKEN_LABEL"}, Usage: "label of the token to use"},
		&cli.StringFlag{Name: "token-serial", EnvVars: []string{"KEYPORT_TOKEN_SERIAL"}, Usage: "serial number of the token to use"},
		&cli.UintFlag{Name: "slot", EnvVars: []string{"KEYPORT_SLOT"}, Usage: "slot id of the token to use"},
		&cli.StringFlag{Name: "pkcs11-uri", EnvVars: []string{"KEYPORT_PKCS11_URI"}, Usage: "RFC 7512 pkcs11: URI naming module, token and PIN source instead of the flags above"},
		&cli.StringFlag{Name: "pin-file", EnvVars: []string{"KEYPORT_PIN_FILE"}, Usage: "file holding the user PIN (else KEYPORT_PIN)"},
		&cli.StringFlag{Name: "sm2-profile", EnvVars: []string{"KEYPORT_SM2_PROFILE"}, Usage: "how the token does SM2: ecdh (default: EC keys and ECDH derive), tass, sansec or luna (vendor key types and mechanisms)"},
	}
}

// moduleFrom returns the module path or a usage error.
func moduleFrom(c *cli.Context) (string, error) {
	m := c.String("module")
	if m == "" {
		return "", usagef("no PKCS#11 module: give --module or set KEYPORT_PKCS11_MODULE")
	}
	return m, nil
}

// hsmConfig builds the HSM configuration from flags and environment. The
// PIN comes from the URI, --pin-file or KEYPORT_PIN, never from a flag
// value, so it does not show in process listings.
func hsmConfig(c *cli.Context) (hsm.Config, error) {
	var cfg hsm.Config
	if uri := c.String("pkcs11-uri"); uri != "" {
		// A flag value shows in `ps`; the environment does not.
		if hsm.URIHasPINValue(uri) && uri != os.Getenv("KEYPORT_PKCS11_URI") {
			return cfg, usagef("--pkcs11-uri carries pin-value, which process listings would show: use pin-source=file:PATH, or put the URI in KEYPORT_PKCS11_URI")
		}
		var err error
		if cfg, err = hsm.ParseURI(uri); err != nil {
			return cfg, usagef("%v", err)
		}
	}
	if cfg.Module == "" {
		cfg.Module = c.String("module")
	}
	if cfg.Module == "" {
		return cfg, usagef("no PKCS#11 module: give --module or set KEYPORT_PKCS11_MODULE")
	}
	if v := c.String("token-label"); v != "" {
		cfg.TokenLabel = v
	}
	cfg.SM2Profile = c.String("sm2-profile")
	if v := c.String("token-serial"); v != "" {
		cfg.TokenSerial = v
	}
	if c.IsSet("slot") {
		s := c.Uint("slot")
		cfg.Slot = &s
	}
	if cfg.PIN == "" {
		if f := c.String("pin-file"); f != "" {
			pin, err := hsm.ReadPINFile(f)
			if err != nil {
				return cfg, err
			}
			cfg.PIN = pin
		} else {
			cfg.PIN = os.Getenv("KEYPORT_PIN")
		}
	}
	if err := cfg.Validate(); err != nil {
		if errors.Is(err, hsm.ErrModule) {
			return cfg, err // a wrong path is an operational error, not a usage one
		}
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}
