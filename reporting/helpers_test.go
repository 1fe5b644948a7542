package reporting_test

import (
	"os"
	"strconv"
)

func fmtInt(n int) string { return strconv.Itoa(n) }

// filepathTemp makes a directory for the shared demo store; the OS
// cleans it (the store outlives any one test).
func filepathTemp() (string, error) { return os.MkdirTemp("", "funnelwatch-reporting-") }
