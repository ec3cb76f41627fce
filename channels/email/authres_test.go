package email

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

func TestParseAuthResults(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		id       string
		want     string // method=result props, one result per ";"
		bad      bool
	}{
		{"gmail", `mx.google.com;
       dkim=pass header.i=@example.se header.s=s1 header.b=AbC+/d9=;
       spf=pass (google.com: domain of anna@example.se designates 1.2.3.4 as permitted sender) smtp.mailfrom=anna@example.se;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.se`, "mx.google.com",
			"dkim=pass header.b=AbC+/d9= header.i=@example.se header.s=s1; spf=pass smtp.mailfrom=anna@example.se; dmarc=pass header.from=example.se", false},
		{"version and reason", `mx.shop.se 1; dmarc=fail reason="p=reject" header.from=evil.example`, "mx.shop.se",
			"dmarc=fail(p=reject) header.from=evil.example", false},
		{"none", `mx.shop.se; none`, "mx.shop.se", "", false},
		{"comments everywhere", `(c) mx.shop.se (x) ; (y) spf (z) = (w) fail (nested (deep) c) smtp . mailfrom = "a@b.se" ;`, "mx.shop.se",
			"spf=fail smtp.mailfrom=a@b.se", false},
		{"method version", `mx.shop.se; dkim/1=pass header.d=shop.se`, "mx.shop.se", "dkim=pass header.d=shop.se", false},
		{"quoted id", `"mx shop"; arc=none`, "mx shop", "arc=none", false},
		{"no id", `; spf=pass`, "", "", true},
		{"microsoft without id", `spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=x.se; dmarc=pass header.from=x.se`, "spf", "", true},
		{"missing result", `mx.shop.se; spf=`, "mx.shop.se", "", true},
		{"junk after none", `mx.shop.se; none; spf=pass`, "mx.shop.se", "", true},
		{"unclosed comment", `mx.shop.se; spf=pass (oops`, "mx.shop.se", "spf=pass", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := parseAuthResults(tc.in)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want bad %v", err, tc.bad)
			}
			if ar == nil {
				if tc.id != "" {
					t.Fatalf("no result, want id %q", tc.id)
				}
				return
			}
			if ar.ServID != tc.id {
				t.Errorf("authserv-id %q, want %q", ar.ServID, tc.id)
			}
			if tc.bad {
				return
			}
			var got []string
			for _, r := range ar.Results {
				s := r.Method + "=" + r.Result
				if r.Reason != "" {
					s += "(" + r.Reason + ")"
				}
				var keys []string
				for k := range r.Props {
					keys = append(keys, k)
				}
				sortStrings(keys)
				for _, k := range keys {
					s += " " + k + "=" + r.Props[k]
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("results\n got %s\nwant %s", g, tc.want)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func headerOf(t testing.TB, fields ...string) mail.Header {
	t.Helper()
	raw := strings.Join(fields, "\r\n") + "\r\n\r\n"
	e, err := message.Read(bytes.NewReader([]byte(raw)))
	if e == nil {
		t.Fatal(err)
	}
	return mail.Header{Header: e.Header}
}

func TestCheckSender(t *testing.T) {
	ids := []string{"mx.shop.example"}
	for _, tc := range []struct {
		name   string
		from   string
		fields []string
		want   string // "false", "true" or "unknown"
	}{
		{"dmarc fail", "anna@example.se", []string{"Authentication-Results: mx.shop.example; dmarc=fail header.from=example.se"}, "false"},
		{"dmarc pass", "anna@example.se", []string{"Authentication-Results: mx.shop.example; dmarc=pass header.from=example.se"}, "true"},
		{"spf and dkim fail", "anna@example.se", []string{"Authentication-Results: mx.shop.example; spf=fail smtp.mailfrom=anna@example.se; dkim=fail header.d=example.se"}, "false"},
		{"spf softfail, no signature", "anna@example.se", []string{"Authentication-Results: mx.shop.example; spf=softfail smtp.mailfrom=bounce.example.se; dkim=none"}, "false"},
		{"spf fails, dkim passes", "anna@example.se", []string{"Authentication-Results: mx.shop.example; spf=fail smtp.mailfrom=example.se; dkim=pass header.d=mail.example.se"}, "true"},
		{"fail for another domain", "anna@example.se", []string{"Authentication-Results: mx.shop.example; dmarc=fail header.from=other.example; spf=fail smtp.mailfrom=other.example"}, "unknown"},
		{"forged by the sender", "anna@example.se", []string{"Authentication-Results: mx.evil.example; dmarc=pass header.from=example.se",
			"Authentication-Results: mx.shop.example; dmarc=fail header.from=example.se"}, "false"},
		{"forged pass does not outweigh", "anna@example.se", []string{"Authentication-Results: mx.shop.example; dmarc=fail header.from=example.se",
			"Authentication-Results: mx.shop.example; dmarc=pass header.from=example.se"}, "false"},
		{"other host only", "anna@example.se", []string{"Authentication-Results: mx.evil.example; dmarc=fail header.from=example.se"}, "unknown"},
		{"id case", "anna@example.se", []string{"Authentication-Results: MX.Shop.Example; dmarc=fail header.from=Example.SE"}, "false"},
		{"no header", "anna@example.se", nil, "unknown"},
		{"public suffix is no alignment", "anna@shop.co.uk", []string{"Authentication-Results: mx.shop.example; spf=fail smtp.mailfrom=other.co.uk; dkim=none"}, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := append([]string{"From: " + tc.from, "Subject: x"}, tc.fields...)
			sc := checkSender(headerOf(t, fields...), tc.from, ids)
			got := "unknown"
			if sc.Verified != nil {
				got = map[bool]string{true: "true", false: "false"}[*sc.Verified]
			}
			if got != tc.want {
				t.Errorf("verified = %s (%s), want %s", got, sc.Summary, tc.want)
			}
		})
	}
}

// FuzzAuthResults: any header value parses without panicking, within its
// bounds, to lower-cased methods and results.
func FuzzAuthResults(f *testing.F) {
	for _, s := range []string{
		"mx.google.com; dkim=pass header.i=@example.se header.s=s1 header.b=AbC+/d9=; spf=pass smtp.mailfrom=a@example.se; dmarc=pass header.from=example.se",
		"mx.shop.se 1; dmarc=fail reason=\"p=reject\" header.from=evil.example",
		"mx; none", "(((((", "\"", "a; b=c d.e=\"f", "x; spf/1=PASS (c (d) e) smtp.mailfrom=<a@b>;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ar, _ := parseAuthResults(s)
		if ar == nil {
			return
		}
		if len(ar.Results) > maxAuthResResults {
			t.Fatalf("%d results", len(ar.Results))
		}
		for _, r := range ar.Results {
			if r.Method == "" || r.Result == "" || r.Method != strings.ToLower(r.Method) || r.Result != strings.ToLower(r.Result) {
				t.Fatalf("result %+v", r)
			}
			if len(r.Props) > maxAuthResProps {
				t.Fatalf("%d props", len(r.Props))
			}
		}
		_ = checkSender(mail.Header{}, "a@b.se", []string{ar.ServID})
	})
}

// BenchmarkCheckSender is the cost the sender check adds to each mail: a
// Gmail-style header with three Authentication-Results fields, one of them
// from another host.
func BenchmarkCheckSender(b *testing.B) {
	h := headerOf(b, "From: anna@example.se",
		"Authentication-Results: mx.google.com; dkim=pass header.i=@example.se header.s=s1 header.b=AbC+/d9=; spf=pass (google.com: domain of anna@example.se designates 1.2.3.4 as permitted sender) smtp.mailfrom=anna@example.se; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.se",
		"Authentication-Results: mx.evil.example; dmarc=pass header.from=example.se",
		"Authentication-Results: mx.google.com; arc=none")
	ids := []string{"mx.google.com"}
	b.ReportAllocs()
	for b.Loop() {
		if sc := checkSender(h, "anna@example.se", ids); sc.Verified == nil || !*sc.Verified {
			b.Fatal("not verified")
		}
	}
}
