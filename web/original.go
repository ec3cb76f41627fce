package web

import (
	"net/http"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
)

// metaRawKey is the message meta key under which the email channel names
// the stored raw mail (email.MetaRawKey; web does not import channels).
const metaRawKey = "raw_key"

// handleOriginal serves the original of an inbound email (the raw mail the
// email channel stored before parsing it) as a download, never rendered,
// to agents who may see the message's ticket. Not found is the answer for
// a message without an original and for one the agent may not see, so the
// endpoint tells nothing about tickets beyond the agent's reach.
func (s *Server) handleOriginal(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	notFound := ticketing.Errorf(ticketing.ENotFound, "this message has no original mail")
	m, err := s.store.GetMessage(r.Context(), r.PathValue("id"))
	if ticketing.IsNotFound(err) {
		writeError(w, r, notFound)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	key := m.Meta[metaRawKey]
	if key == "" || m.Channel != ticketing.ChannelEmail {
		writeError(w, r, notFound)
		return
	}
	v := ViewerFrom(r.Context())
	if m.TicketID == "" && !v.All { // on no ticket: only for those who see everything
		writeError(w, r, notFound)
		return
	}
	if m.TicketID != "" {
		t, err := s.store.GetTicket(r.Context(), m.TicketID)
		switch {
		case ticketing.IsNotFound(err) && !v.All:
			writeError(w, r, notFound)
			return
		case ticketing.IsNotFound(err):
		case err != nil:
			writeError(w, r, err)
			return
		case !v.CanSee(t):
			writeError(w, r, notFound)
			return
		}
	}
	b, err := s.store.GetBlob(r.Context(), key)
	if ticketing.IsNotFound(err) {
		writeError(w, r, notFound)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mimeAttachment("message-"+m.ID+".eml"))
	h.Set("Content-Length", strconv.Itoa(len(b.Data)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	_, _ = w.Write(b.Data)
}
