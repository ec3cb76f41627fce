package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// The console is server-rendered html/template shells (translated chrome
// and a JSON boot block) plus small vanilla ES modules that fetch the JSON
// API, render with textContent only and keep the page live over
// /api/v1/live. Everything is embedded: Svar needs no Node toolchain.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// consoleCSP allows scripts, styles, fonts and frames from this origin
// only: no inline script or style anywhere in the console. img-src allows
// data: for the TOTP QR code; connect-src 'self' covers the live websocket.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// console holds the parsed templates and the static files with their
// ETags, built once per Server.
type console struct {
	login  *template.Template
	app    *template.Template
	static map[string]staticFile
	// unsubscribe stops listening for agent sign-outs (agent.go).
	unsubscribe func()
}

type staticFile struct {
	data  []byte
	etag  string
	ctype string
}

func newConsole() *console {
	c := &console{
		login:  template.Must(template.ParseFS(templateFS, "templates/base.html", "templates/login.html")),
		app:    template.Must(template.ParseFS(templateFS, "templates/base.html", "templates/app.html")),
		static: map[string]staticFile{},
	}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		c.static["/"+p] = staticFile{data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: contentType(p)}
		return nil
	})
	if err != nil {
		panic("web: read embedded static files: " + err.Error()) // the embed is fixed at build time
	}
	return c
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".txt", ".md":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// consoleRoutes registers the agents' console pages and static files, and
// the API the console adds: agents (agent.go) and two-factor setup
// (totp.go).
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	s.console = newConsole()
	s.listenDisconnect()
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("GET /{$}", s.page(""))
	mux.HandleFunc("GET /views/{view}", s.page(""))
	mux.HandleFunc("GET /tickets/{id}", s.page(""))
	mux.HandleFunc("GET /settings", s.page(""))
	mux.HandleFunc("GET /agents", s.page(ticketing.RoleAdmin))
	mux.HandleFunc("GET /service-levels", s.page(ticketing.RoleAdmin))
	mux.HandleFunc("GET /teams", s.page(ticketing.RoleAdmin))
	mux.HandleFunc("GET /routing", s.page(ticketing.RoleAdmin))
	mux.HandleFunc("GET /retention", s.page(ticketing.RoleAdmin))
	mux.HandleFunc("GET /static/", s.handleStatic)
	mux.HandleFunc("GET /messages/{id}/html", s.handleMessageHTML)

	mux.Handle("GET /api/v1/agents", s.authed(s.handleListAgents))
	mux.Handle("POST /api/v1/agents", s.authed(s.handleInviteAgent))
	mux.Handle("PATCH /api/v1/agents/{id}", s.authed(s.handlePatchAgent))
	mux.Handle("PATCH /api/v1/me", s.authed(s.handlePatchMe))
	mux.Handle("POST /api/v1/me/totp", s.authed(s.handleTOTPSetup))
	mux.Handle("GET /api/v1/me/totp/qr.png", s.authed(s.handleTOTPImage))
	mux.Handle("POST /api/v1/me/totp/confirm", s.authed(s.handleTOTPConfirm))
	mux.Handle("DELETE /api/v1/me/totp", s.authed(s.handleTOTPDisable))
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
}

// pageData is what the page templates see.
type pageData struct {
	Lang  string
	Title string
	Agent *ticketing.Agent
	Admin bool
	Views []viewLink
	// Boot is encoded as JSON into a non-executed <script
	// type="application/json"> block that app.js reads.
	Boot any
	cat  catalog
}

// T translates key into the page's language.
func (p pageData) T(key string) string { return p.cat.get(key) }

type viewLink struct {
	ID    string
	Label string
}

// bootData is what the console's modules start from.
type bootData struct {
	Agent   *ticketing.Agent  `json:"agent"`
	Lang    string            `json:"lang"`
	Strings map[string]string `json:"strings"`
}

func consoleViews(cat catalog) []viewLink {
	ids := []string{ticketing.ViewOpen, ticketing.ViewMine, ticketing.ViewMyTeams, ticketing.ViewUnassigned, ticketing.ViewPending,
		ticketing.ViewSolved, ticketing.ViewAll}
	out := make([]viewLink, len(ids))
	for i, id := range ids {
		out[i] = viewLink{ID: id, Label: cat.get("view_" + id)}
	}
	return out
}

// page serves the console shell to a signed-in agent; role, when set, is
// the role the page needs. Who is not signed in goes to /login and comes
// back afterwards.
func (s *Server) page(role string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _, err := s.authenticate(r)
		if err != nil {
			if ticketing.ErrorCode(err) != ticketing.EUnauthorized {
				s.errorPage(w, r, err)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if v := r.PathValue("view"); v != "" {
			if _, ok := ticketing.ViewFilter(v, a.ID); !ok && !s.savedView(r, a, v) {
				http.NotFound(w, r)
				return
			}
		}
		if role != "" && a.Role != role {
			s.errorPage(w, r, ticketing.Errorf(ticketing.EForbidden, "only admins may manage agents"))
			return
		}
		lang := langOf(a.Language)
		cat := catalogFor(lang)
		data := pageData{Lang: lang, Title: "Svar", Agent: a, Admin: a.Role == ticketing.RoleAdmin,
			Views: consoleViews(cat), cat: cat,
			Boot: bootData{Agent: a, Lang: lang, Strings: cat.clientStrings()}}
		s.render(w, r, s.console.app, data)
	}
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, t *template.Template, data pageData) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "page", data); err != nil {
		s.log.Error("render console page", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w)
	_, _ = w.Write(buf.Bytes())
}

// errorPage answers a page request that failed with a short text page.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	status, ok := statusOf[ticketing.ErrorCode(err)]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("console page", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	http.Error(w, ticketing.ErrorMessage(err), status)
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, _, err := s.authenticate(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	lang := langFromRequest(r)
	cat := catalogFor(lang)
	data := pageData{Lang: lang, Title: cat.get("sign_in_title"), cat: cat,
		Boot: bootData{Lang: lang, Strings: cat.clientStrings()}}
	s.render(w, r, s.console.login, data)
}

// safeNext keeps a post-login redirect on this site: a path, never
// "//host" or "/\host" that browsers read as another origin.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

// handleStatic serves the embedded CSS, modules and icons. They are
// revalidated on every load (ETag, 304): module imports cannot carry a
// cache-busting query, and a stale module must never outlive an upgrade.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.console.static[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("Content-Security-Policy", consoleCSP)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
