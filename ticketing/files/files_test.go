package files_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/files"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func parts(t *testing.T, link string) (key, exp, sig string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/files/"), u.Query().Get("exp"), u.Query().Get("sig")
}

// TestLinksAreSharedByNodesAndExpire: two nodes load the same secret, so
// a link made on one verifies on the other; tampering and expiry do not.
func TestLinksAreSharedByNodesAndExpire(t *testing.T) {
	nodes := mongotest.NewNodes(t, 2)
	ctx := context.Background()
	a, err := files.LoadSigner(ctx, nodes[0], "https://support.example/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := files.LoadSigner(ctx, nodes[1], "https://support.example")
	if err != nil {
		t.Fatal(err)
	}
	link := a.URL("out/k1")
	if !strings.HasPrefix(link, "https://support.example/files/out/k1?exp=") {
		t.Fatalf("link %q", link)
	}
	key, exp, sig := parts(t, link)
	if !b.Verify(key, exp, sig) {
		t.Fatal("the other node refuses the link")
	}
	for name, c := range map[string][3]string{
		"other key":   {"out/k2", exp, sig},
		"later exp":   {key, exp + "0", sig},
		"no sig":      {key, exp, ""},
		"bad sig":     {key, exp, strings.Repeat("0", len(sig))},
		"garbage exp": {key, "soon", sig},
	} {
		if b.Verify(c[0], c[1], c[2]) {
			t.Errorf("%s: verified", name)
		}
	}
	old := a.URLUntil("out/k1", time.Now().Add(-time.Minute))
	if key, exp, sig := parts(t, old); a.Verify(key, exp, sig) {
		t.Error("an expired link verified")
	}
	if p := a.Path("out/k1"); !strings.HasPrefix(p, "/files/out/k1?exp=") {
		t.Errorf("path %q", p)
	}
}
