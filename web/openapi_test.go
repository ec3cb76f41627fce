package web

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/svar-dev/svar/channels/sms"
)

// notDocumented are mux patterns that are no API of their own.
var notDocumented = map[string]string{
	"/api/": "the JSON 404 for unknown API paths",
}

// dynamicRoutes are registered with computed patterns, which the source
// scan cannot read; list them here with their files.
var dynamicRoutes = map[string][]string{
	"channels/sms/sms.go": {
		"POST " + sms.PathTwilioSMS, "POST " + sms.PathTwilioStatus,
		"POST " + sms.PathElksSMS, "POST " + sms.PathElksStatus,
	},
}

var wildcardRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// docPath turns a ServeMux pattern "GET /a/{id}/{rest...}" into the
// document's "GET /a/{id}/{rest}"; a subtree pattern "GET /static/" into
// "GET /static/{path}"; "GET /{$}" into "GET /".
func docPath(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "ANY", pattern
	}
	path = strings.TrimSuffix(path, "{$}")
	if path != "/" && strings.HasSuffix(path, "/") {
		path += "{path}"
	}
	path = wildcardRE.ReplaceAllString(path, "{$1}")
	return method + " " + path
}

// registeredRoutes finds every mux.Handle and mux.HandleFunc call in the
// non-test sources of web and the channel adapters, by reading them.
func registeredRoutes(t *testing.T) map[string]string {
	t.Helper()
	dirs := []string{"."}
	chans, _ := filepath.Glob("../channels/*")
	dirs = append(dirs, chans...)
	routes := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(filepath.Join("web", file))), "web/../")
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				pos := fset.Position(call.Pos())
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					if _, listed := dynamicRoutes[rel]; !listed {
						t.Errorf("%s:%d registers a route with a computed pattern: list its routes in dynamicRoutes in web/openapi_test.go", rel, pos.Line)
					}
					return true
				}
				p, _ := strconv.Unquote(lit.Value)
				if _, skip := notDocumented[p]; !skip {
					routes[docPath(p)] = rel + ":" + strconv.Itoa(pos.Line)
				}
				return true
			})
		}
	}
	for file, rs := range dynamicRoutes {
		for _, r := range rs {
			routes[docPath(r)] = file
		}
	}
	return routes
}

// documentedRoutes are the document's operations as "METHOD /path".
func documentedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("web/openapi/openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	out := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				out[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return out
}

// TestOpenAPIMatchesRoutes: every route registered on the mux is in
// web/openapi/openapi.json and every operation there is registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	registered := registeredRoutes(t)
	documented := documentedRoutes(t)
	var missing, extra []string
	for r, where := range registered {
		if !documented[r] {
			method, path, _ := strings.Cut(r, " ")
			missing = append(missing, "  "+where+` registers "`+r+`": add "paths": {"`+path+`": {"`+strings.ToLower(method)+`": {...}}} to web/openapi/openapi.json`)
		}
	}
	for r := range documented {
		if _, ok := registered[r]; !ok {
			extra = append(extra, "  "+r)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document:\n%s", strings.Join(missing, "\n"))
	}
	if len(extra) > 0 {
		t.Errorf("operations in web/openapi/openapi.json that no route registers (remove them, or register the route):\n%s", strings.Join(extra, "\n"))
	}
	if len(registered) < 30 {
		t.Errorf("found only %d routes; the source scan is broken", len(registered))
	}
}

func TestDocPath(t *testing.T) {
	for in, want := range map[string]string{
		"GET /{$}":                           "GET /",
		"GET /static/":                       "GET /static/{path}",
		"GET /api/v1/attachments/{key...}":   "GET /api/v1/attachments/{key}",
		"PATCH /api/v1/tickets/{id}":         "PATCH /api/v1/tickets/{id}",
		"POST /api/v1/tickets/{id}/messages": "POST /api/v1/tickets/{id}/messages",
	} {
		if got := docPath(in); got != want {
			t.Errorf("docPath(%q) = %q, want %q", in, got, want)
		}
	}
}

type fakeReady struct{ err error }

func (f *fakeReady) Ready(context.Context) error { return f.err }

func TestReadyzAndOpenAPIServed(t *testing.T) {
	ready := &fakeReady{err: errors.New("catching up with events")}
	srv := httptest.NewServer(New(Options{Ready: ready}))
	t.Cleanup(srv.Close)
	get := func(path string) (int, map[string]any) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return res.StatusCode, v
	}
	if code, v := get("/readyz"); code != 503 || v["status"] != "not_ready" || v["reason"] != "catching up with events" {
		t.Fatalf("readyz while starting: %d %v", code, v)
	}
	ready.err = nil
	if code, v := get("/readyz"); code != 200 || v["status"] != "ready" {
		t.Fatalf("readyz when ready: %d %v", code, v)
	}
	if code, v := get("/api/v1/openapi.json"); code != 200 || v["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json: %d %v", code, v["openapi"])
	}
}
