package postgres_test

import (
	"os"
	"testing"

	"github.com/keyport-kms/keyport/pgserver"
)

func TestMain(m *testing.M) { os.Exit(pgserver.Main(m)) }
