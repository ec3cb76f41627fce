package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/csat"
	"github.com/svar-dev/svar/ticketing/staff"
)

// CSAT is the survey service the web layer maps to HTTP: the admins'
// settings and the customers' one-click page.
type CSAT interface {
	Settings(ctx context.Context) (csat.Settings, error)
	PutSettings(ctx context.Context, in csat.Settings) (csat.Settings, error)
	Verify(ctx context.Context, token string) (*csat.Claim, error)
	Answer(ctx context.Context, token string, score int, comment string, ch ticketing.Channel) error
}

var csatPage = template.Must(template.ParseFS(templateFS, "templates/csat.html"))

// maxCSATForm caps the comment form's body; a longer comment is refused
// by the service with a clear message, a far longer body with 413.
const maxCSATForm = 256 << 10

func (s *Server) csatRoutes(mux *http.ServeMux) {
	if s.opts.CSAT == nil {
		return
	}
	mux.Handle("GET /api/v1/settings/csat", s.authed(s.handleGetCSATSettings))
	mux.Handle("PUT /api/v1/settings/csat", s.authed(s.handlePutCSATSettings))
	mux.HandleFunc("GET /csat/{token}", s.handleCSATPage)
	mux.HandleFunc("POST /csat/{token}", s.handleCSATPage)
}

func (s *Server) handleGetCSATSettings(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.opts.CSAT.Settings(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handlePutCSATSettings(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in csat.Settings
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.opts.CSAT.PutSettings(r.Context(), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// csatView is what templates/csat.html sees.
type csatView struct {
	Lang, Title, Heading, Text, Error string
	Token                             string
	Score                             int
	Scores                            []csatScore
	Comment                           string
	ShowForm, Saved                   bool
	cat                               catalog
}

type csatScore struct {
	N     int
	Label string
	Href  string
	Is    bool
}

func (v csatView) T(key string) string { return v.cat.get(key) }

// handleCSATPage records a one-click score (GET ?score=N) or a comment
// (POST) and shows the page with the comment box. It works without
// JavaScript and without a login; a bad token is a 404 page.
func (s *Server) handleCSATPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	ctx := r.Context()
	claim, err := s.opts.CSAT.Verify(ctx, token)
	lang := langFromRequest(r)
	if claim != nil && r.URL.Query().Get("lang") == "" {
		lang = claim.Lang
	}
	cat := catalogFor(lang)
	v := csatView{Lang: lang, Title: cat.get("csat_title"), Heading: cat.get("csat_heading"), Token: token, cat: cat}
	if err != nil {
		status := http.StatusNotFound
		v.Heading, v.Text = cat.get("csat_not_found"), cat.get("csat_not_found_text")
		if ticketing.ErrorCode(err) != ticketing.ENotFound {
			status = http.StatusServiceUnavailable
			v.Heading, v.Text = cat.get("csat_unavailable"), ""
			s.log.Error("csat page", "err", err)
		}
		s.renderCSAT(w, status, v)
		return
	}
	raw := r.URL.Query().Get("score")
	comment := ""
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxCSATForm)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			status := http.StatusBadRequest
			if errors.As(err, &tooBig) {
				status = http.StatusRequestEntityTooLarge
			}
			v.Error = cat.get("csat_comment_too_long")
			v.ShowForm = true
			s.renderCSAT(w, status, v.withScores(0))
			return
		}
		raw, comment = r.PostForm.Get("score"), r.PostForm.Get("comment")
		v.Comment = comment
	}
	if raw == "" { // no score yet: show the five choices
		v.Text = cat.get("csat_pick")
		s.renderCSAT(w, http.StatusOK, v.withScores(0))
		return
	}
	score, err := strconv.Atoi(raw)
	if err != nil || score < 1 || score > 5 {
		v.Error = cat.get("csat_bad_score")
		s.renderCSAT(w, http.StatusBadRequest, v.withScores(0))
		return
	}
	if err := s.opts.CSAT.Answer(ctx, token, score, comment, ticketing.ChannelEmail); err != nil {
		var de *ticketing.Error
		switch {
		case errors.As(err, &de) && de.Field == "comment":
			v.Error, v.ShowForm = cat.get("csat_comment_too_long"), true
			s.renderCSAT(w, http.StatusBadRequest, v.withScores(score))
		case ticketing.IsNotFound(err):
			v.Heading, v.Text = cat.get("csat_not_found"), cat.get("csat_not_found_text")
			s.renderCSAT(w, http.StatusNotFound, v)
		default:
			s.log.Error("csat answer", "err", err)
			v.Heading = cat.get("csat_unavailable")
			s.renderCSAT(w, http.StatusServiceUnavailable, v)
		}
		return
	}
	v.Heading, v.Text, v.ShowForm, v.Saved = cat.get("csat_thanks"), cat.get("csat_thanks_text"), true, r.Method == http.MethodPost
	s.renderCSAT(w, http.StatusOK, v.withScores(score))
}

func (v csatView) withScores(current int) csatView {
	v.Score = current
	for i := 1; i <= 5; i++ {
		v.Scores = append(v.Scores, csatScore{N: i, Label: v.cat.get("csat_score_" + strconv.Itoa(i)),
			Href: "/csat/" + v.Token + "?score=" + strconv.Itoa(i), Is: i == current})
	}
	return v
}

func (s *Server) renderCSAT(w http.ResponseWriter, status int, v csatView) {
	pageHeaders(w)
	w.WriteHeader(status)
	if err := csatPage.Execute(w, v); err != nil {
		s.log.Warn("render csat page", "err", err)
	}
}
