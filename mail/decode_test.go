package mail_test

import (
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

func decode64(t *testing.T, b []byte) []byte {
	out, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newQP(r io.Reader) io.Reader { return quotedprintable.NewReader(r) }
