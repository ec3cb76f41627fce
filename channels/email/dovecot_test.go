package email

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// startDovecot runs Debian's dovecot (package dovecot-imapd) on 127.0.0.1
// with a throwaway configuration, when SVAR_TEST_DOVECOT=1.
func startDovecot(t *testing.T) (addr string) {
	t.Helper()
	if os.Getenv("SVAR_TEST_DOVECOT") != "1" {
		t.Skip("set SVAR_TEST_DOVECOT=1 to run against dovecot (apt-get install dovecot-imapd)")
	}
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		bin = "/usr/sbin/dovecot"
	}
	// Not t.TempDir: its parent is private to this user, and dovecot
	// reads mail as another one when the test runs as root.
	dir, err := os.MkdirTemp("", "svar-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	// Mail is kept as the current user, or as the dovecot user when
	// running as root (dovecot never accesses mail as root).
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		u, err := user.Lookup("dovecot")
		if err != nil {
			t.Skipf("no dovecot user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	mail := filepath.Join(dir, "mail")
	if err := os.MkdirAll(mail, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mail, uid, gid); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = %[3]d
mail_location = maildir:%[2]s/%%u
passdb {
  driver = static
  args = password=%[4]s
}
userdb {
  driver = static
  args = uid=%[3]d gid=%[5]d home=%[2]s/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]d
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`, dir, mail, uid, testPassword, gid, port)
	cfg := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "dovecot.log")); err == nil {
				t.Logf("dovecot log:\n%s", b)
			}
		}
	})
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	checkFor(t, 15*time.Second, func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	return addr
}

func TestDovecot(t *testing.T) {
	addr := startDovecot(t)
	admin, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create("Support", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendTo := func(raw []byte) {
		t.Helper()
		cmd := admin.Append("Support", int64(len(raw)), nil)
		_, _ = cmd.Write(raw)
		_ = cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(readCorpus(t, "outlook_reply.eml"))

	st, pub := newMemStore(), &recPublisher{}
	o := testOptions(t, addr, "127.0.0.1:2", st, pub, nil, st)
	o.IMAP.Mailbox = "Support"
	c := newChannel(t, o)
	c.idleRecheck = time.Hour
	stop := start(t, c)
	envs := pub.waitCount(t, 1)
	if envs[0].From.Value != "bjorn.akesson@outlook.com" || !strings.Contains(envs[0].Text, "returnera skorna") {
		t.Errorf("envelope from dovecot: %q %q", envs[0].From.Value, envs[0].Text)
	}
	// IDLE: a mail appended now arrives without polling.
	appendTo(readCorpus(t, "swedish_latin1.eml"))
	pub.waitCount(t, 2)
	waitCheckpoint(t, c, st, 2)
	stop()

	// A new channel on the same store continues after the checkpoint.
	appendTo(readCorpus(t, "windows1252.eml"))
	c2 := newChannel(t, o)
	start(t, c2)
	waitCheckpoint(t, c2, st, 3)
	if n := len(pub.all()); n != 3 {
		t.Errorf("%d envelopes, want 3", n)
	}
	var cp checkpoint
	if err := st.GetState(context.Background(), c2.checkpointKey(), &cp); err != nil || cp.UIDValidity == 0 {
		t.Errorf("checkpoint %+v %v", cp, err)
	}
}
