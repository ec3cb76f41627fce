package email

import (
	"bufio"
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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The servers tests talk to: go-imap's in-memory IMAP server, a go-smtp
// server, both on 127.0.0.1, and a proxy to shape what the IMAP server
// says.

// imapServer is go-imap's in-memory server on 127.0.0.1.
type imapServer struct {
	addr  string
	tls   *tls.Config // the client configuration, when the server speaks TLS from the start
	proxy *proxy      // in front of the server when it must not offer IDLE
	user  *imapmemserver.User
	srv   *imapserver.Server
}

// startIMAP starts an IMAP server with the test user and an INBOX. With
// idle false it offers IMAP4rev1 only, so clients must poll.
func startIMAP(t testing.TB, idle bool, tlsCfg *tls.Config) *imapServer {
	t.Helper()
	return startIMAPOn(t, idle, tlsCfg, false)
}

// startIMAPOn is startIMAP, with TLS from the first byte when implicitTLS.
func startIMAPOn(t testing.TB, idle bool, tlsCfg *tls.Config, implicitTLS bool) *imapServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(testUser, testPassword)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	caps := imap.CapSet{imap.CapIMAP4rev1: {}}
	if idle {
		caps[imap.CapIMAP4rev2] = struct{}{}
	}
	w := &testWriter{t: t}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		Logger:       w,
		InsecureAuth: true,
		TLSConfig:    tlsCfg,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicitTLS {
		ln = tls.NewListener(ln, tlsCfg)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		w.stop()
		_ = srv.Close()
		<-done
	})
	s := &imapServer{addr: ln.Addr().String(), user: user, srv: srv}
	if !idle {
		// go-imap's server always offers IDLE; a proxy hides it, as a
		// server without IDLE would.
		s.proxy = startProxy(t, s.addr, func(line string) string {
			if strings.HasPrefix(line, "* CAPABILITY") || strings.Contains(line, "[CAPABILITY") {
				return strings.ReplaceAll(line, " IDLE", "")
			}
			return line
		})
		s.addr = s.proxy.addr
	}
	return s
}

// proxy forwards TCP connections to a server, passing each line the
// server sends through rewrite. drop closes every open connection.
type proxy struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t testing.TB, backend string, rewrite func(string) string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(b, c)
				b.Close()
			}()
			go func() {
				defer wg.Done()
				r := bufio.NewReader(b)
				for {
					line, err := r.ReadString('\n')
					if line != "" {
						if _, werr := io.WriteString(c, rewrite(line)); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.drop()
		wg.Wait()
	})
	return p
}

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// client logs a test client in.
func (s *imapServer) client(t testing.TB) *imapclient.Client {
	t.Helper()
	var c *imapclient.Client
	var err error
	if s.tls != nil {
		c, err = imapclient.DialTLS(s.addr, &imapclient.Options{TLSConfig: s.tls})
	} else {
		c, err = imapclient.DialInsecure(s.addr, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// appendMail appends raw to mailbox, as a mail arriving.
func (s *imapServer) appendMail(t testing.TB, mailbox string, raw []byte) {
	t.Helper()
	c := s.client(t)
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	_ = c.Logout().Wait()
}

// seen returns the UIDs of mailbox's mails flagged \Seen.
func (s *imapServer) seen(t testing.TB, mailbox string) []imap.UID {
	t.Helper()
	c := s.client(t)
	defer c.Logout()
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return res.AllUIDs()
}

// smtpServer is a go-smtp server on 127.0.0.1 that records what it
// receives and can be told to refuse.
type smtpServer struct {
	addr string
	srv  *smtp.Server

	mu   sync.Mutex
	msgs []sentMail
	// fail, when set, answers MAIL FROM (stage "mail"), RCPT TO ("rcpt")
	// or DATA ("data") with an error; it is consulted for each command.
	fail     func(stage string) error
	auth     bool // require AUTH PLAIN with the test credentials
	authSeen int
	// dropAfterData is how many more sessions have their connection cut
	// after the server took a mail's data, before it answers the final ".".
	dropAfterData int
}

type sentMail struct {
	From string
	To   []string
	Data []byte
}

// startSMTP starts the server on addr ("" for any free port).
func startSMTP(t testing.TB, addr string, tlsCfg *tls.Config) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	s.listen(t, addr, tlsCfg, false)
	return s
}

func (s *smtpServer) listen(t testing.TB, addr string, tlsCfg *tls.Config, implicitTLS bool) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s, conn: c}, nil }))
	srv.Domain = "mx.test.example"
	srv.AllowInsecureAuth = true
	srv.TLSConfig = tlsCfg
	w := &testWriter{t: t}
	srv.ErrorLog = w
	var ln net.Listener
	var err error
	if implicitTLS {
		ln, err = tls.Listen("tcp", addr, tlsCfg)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		w.stop()
		_ = srv.Close()
		<-done
	})
	s.addr, s.srv = ln.Addr().String(), srv
}

func (s *smtpServer) received() []sentMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentMail(nil), s.msgs...)
}

func (s *smtpServer) failWith(f func(stage string) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

func (s *smtpServer) check(stage string) error {
	s.mu.Lock()
	f := s.fail
	s.mu.Unlock()
	if f != nil {
		return f(stage)
	}
	return nil
}

type smtpSession struct {
	s      *smtpServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != testUser || password != testPassword {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.authSeen++
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	needAuth := ss.s.auth
	ss.s.mu.Unlock()
	if needAuth && !ss.authed {
		return smtp.ErrAuthRequired
	}
	if err := ss.s.check("mail"); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.check("rcpt"); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.check("data"); err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sentMail{From: ss.from, To: ss.to, Data: b})
	drop := ss.s.dropAfterData > 0
	if drop {
		ss.s.dropAfterData--
	}
	ss.s.mu.Unlock()
	if drop {
		// The mail is taken; the answer to its final "." never leaves.
		_ = ss.conn.Conn().Close()
	}
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

// testTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a client configuration that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svar test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
