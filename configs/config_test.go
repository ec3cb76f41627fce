package configs

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPrecedenceFlagsOverEnvOverFileOverDefaults(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "svar.yaml")
	if err := os.WriteFile(file, []byte("http_addr: \":7000\"\ndata_dir: /from/file\nmongodb_database: filedb\nreopen_window: 48h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(flag.NewFlagSet("t", flag.ContinueOnError),
		[]string{"--config", file, "--http-addr", ":9000"},
		env(map[string]string{"SVAR_HTTP_ADDR": ":8000", "SVAR_DATA_DIR": "/from/env"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":9000" || c.DataDir != "/from/env" || c.MongoDBDatabase != "filedb" || c.ReopenWindow != 48*time.Hour {
		t.Fatalf("got %+v", c)
	}
	if c.PublicURL != "http://localhost:8080" || !c.DemoOn() {
		t.Fatalf("defaults lost: %q demo=%v", c.PublicURL, c.DemoOn())
	}
}

func TestValidationNamesTheSetting(t *testing.T) {
	cases := map[string]map[string]string{
		"SVAR_HTTP_ADDR":            {"SVAR_HTTP_ADDR": "nonsense"},
		"SVAR_PUBLIC_URL":           {"SVAR_PUBLIC_URL": "ftp://x"},
		"SVAR_SMS_PROVIDER":         {"SVAR_SMS_PROVIDER": "pigeon"},
		"SVAR_TWILIO_AUTH_TOKEN":    {"SVAR_SMS_PROVIDER": "twilio", "SVAR_SMS_FROM": "+46700000000", "SVAR_TWILIO_ACCOUNT_SID": "AC1"},
		"SVAR_IMAP_ADDR":            {"SVAR_EMAIL_ADDRESS": "support@shop.example", "SVAR_SMTP_ADDR": "smtp:587"},
		"SVAR_EMBEDDED_NATS_ADDR":   {"SVAR_EMBEDDED_NATS_ADDR": "0.0.0.0:4222"},
		"SVAR_DEMO":                 {"SVAR_DEMO": "maybe"},
		"SVAR_CHAT_ALLOWED_ORIGINS": {"SVAR_CHAT_ALLOWED_ORIGINS": "shop"},
		"SVAR_TRUSTED_PROXIES":      {"SVAR_TRUSTED_PROXIES": "10.0.0.0/8, 10.0.0.0/33"},
		"SVAR_CHAT_MAX_PER_ADDRESS": {"SVAR_CHAT_MAX_PER_ADDRESS": "0"},
		"SVAR_CHAT_MAX_PER_VISITOR": {"SVAR_CHAT_MAX_PER_VISITOR": "many"},
		"SVAR_EMAIL_AUTHSERV_ID": {"SVAR_EMAIL_ADDRESS": "support@shop.example", "SVAR_IMAP_ADDR": "imap:993", "SVAR_SMTP_ADDR": "smtp:587",
			"SVAR_EMAIL_AUTHSERV_ID": "mx.google.com, mx shop;x"},
	}
	for want, vars := range cases {
		t.Run(want, func(t *testing.T) {
			_, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(vars))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to name %s", err, want)
			}
		})
	}
}

func TestExampleFileLoads(t *testing.T) {
	_, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", "svar.example.yaml"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
}

func TestTrustedProxiesAndChatCaps(t *testing.T) {
	c, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), nil,
		env(map[string]string{"SVAR_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32", "SVAR_CHAT_MAX_PER_ADDRESS": "500"}))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.TrustedProxyPrefixes()
	if err != nil || len(ps) != 3 || ps[1].String() != "192.0.2.7/32" {
		t.Fatalf("prefixes = %v (%v)", ps, err)
	}
	if c.Chat.MaxPerAddress != 500 || c.Chat.MaxPerVisitor != 5 {
		t.Fatalf("caps = %d per address, %d per visitor", c.Chat.MaxPerAddress, c.Chat.MaxPerVisitor)
	}
	if d := Default(); d.Chat.MaxPerAddress < 50 {
		t.Fatalf("default per-address cap %d refuses 50 customers behind one address", d.Chat.MaxPerAddress)
	}
}
