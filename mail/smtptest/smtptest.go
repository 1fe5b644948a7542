// Package smtptest runs a real SMTP server for tests
// (github.com/emersion/go-smtp): STARTTLS with a certificate made for the
// run, AUTH PLAIN with one account, and every accepted message kept raw.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Account is the server's one login.
const (
	Username = "funnelwatch"
	Password = "test-password"
)

// Mail is one accepted message.
type Mail struct {
	From string
	To   []string
	Data []byte // as received: headers and MIME body
	TLS  bool   // the session was encrypted
	Auth bool   // the session had logged in
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int
	// RootCAs trusts the server's certificate (pass it in the client's
	// tls.Config).
	RootCAs *x509.CertPool

	mu    sync.Mutex
	mails []Mail
	fail  int // refuse this many DATA commands with 451
}

// Start serves on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	cert, pool := certificate(t)
	s := &Server{Host: "127.0.0.1", RootCAs: pool}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Mails returns the messages accepted so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// FailNext refuses the next n messages with a temporary 451.
func (s *Server) FailNext(n int) { s.mu.Lock(); s.fail = n; s.mu.Unlock() }

type session struct {
	s    *Server
	conn *smtp.Conn
	auth bool
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != Username || pass != Password {
			return errors.New("invalid credentials")
		}
		ss.auth = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.auth {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	_, encrypted := ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.fail > 0 {
		ss.s.fail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.s.mails = append(ss.s.mails, Mail{From: ss.from, To: ss.to, Data: b.Bytes(), TLS: encrypted, Auth: ss.auth})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// certificate makes a self-signed certificate for 127.0.0.1 and a pool
// that trusts it.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
