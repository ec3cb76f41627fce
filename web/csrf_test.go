package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCrossOriginRefusalShape: a cross-origin browser request is refused
// with 403 in the contract's JSON error shape, not a plain-text body.
func TestCrossOriginRefusalShape(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/session", `{"email":"admin@example.se","password":"x"}`},
		{"PATCH", "/api/v1/tickets/t1", `{"status":"solved"}`},
		{"DELETE", "/api/v1/session", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403 (%s)", res.StatusCode, raw)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q, want JSON (%s)", ct, raw)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(raw, &body); err != nil || body.Error.Code != "forbidden" || body.Error.Message == "" {
				t.Fatalf("body %s (%v), want {\"error\":{\"code\":\"forbidden\",\"message\":...}}", raw, err)
			}
		})
	}
}
