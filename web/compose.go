package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/files"
)

// postMessage is POST /api/v1/tickets/{id}/messages: a reply or note,
// optionally from a macro, as JSON or as multipart/form-data with a JSON
// part "message" and file parts "files".
type postMessage struct {
	ticketing.ReplyInput
	MacroID string `json:"macro_id" validate:"max=64"`
}

func (s *Server) handlePostMessage(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	// Who may not see the ticket learns nothing, and no file is stored.
	if _, err := s.visibleTicket(r, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	var in postMessage
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "multipart/form-data" {
		if err := s.readMultipartMessage(w, r, &in); err != nil {
			writeError(w, r, err)
			return
		}
	} else if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.valid.Struct(&in); err != nil {
		writeError(w, r, err)
		return
	}
	var m *ticketing.Message
	var err error
	if in.MacroID != "" {
		ms := s.macros(w, r)
		if ms == nil {
			return
		}
		m, err = ms.Send(r.Context(), r.PathValue("id"), a, in.ReplyInput, in.MacroID)
	} else {
		m, err = s.svc.Reply(r.Context(), r.PathValue("id"), a, in.ReplyInput)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if m.Direction == ticketing.DirectionOutbound {
		s.metrics.Replies.WithLabelValues(string(m.Channel)).Inc()
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": m})
}

// maxMultipart bounds a whole multipart reply: every file at its limit
// plus the JSON part and the framing.
const maxMultipart = files.MaxFiles*files.MaxFileSize + maxBody + 64<<10

// readMultipartMessage reads the "message" JSON part into in and stores
// every "files" part in the blob store under a random key. A file over
// files.MaxFileSize, or more than files.MaxFiles files, is a 413 naming
// the limit.
func (s *Server) readMultipartMessage(w http.ResponseWriter, r *http.Request, in *postMessage) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxMultipart)
	mr, err := r.MultipartReader()
	if err != nil {
		return &ticketing.Error{Code: codeBadRequest, Message: "body: malformed multipart/form-data: " + err.Error()}
	}
	var atts []ticketing.Attachment
	var blobs []*ticketing.Blob
	sawMessage := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return ticketing.Errorf(ticketing.ETooLarge, "body: larger than %d MB; files: at most %d files of %d MB each",
				maxMultipart>>20, files.MaxFiles, files.MaxFileSize>>20)
		}
		if err != nil {
			return &ticketing.Error{Code: codeBadRequest, Message: "body: malformed multipart/form-data: " + err.Error()}
		}
		switch p.FormName() {
		case "message":
			data, err := io.ReadAll(io.LimitReader(p, maxBody+1))
			if err != nil {
				return &ticketing.Error{Code: codeBadRequest, Field: "message", Message: "message: unreadable part"}
			}
			if len(data) > maxBody {
				return &ticketing.Error{Code: ticketing.ETooLarge, Field: "message", Message: fmt.Sprintf("message: larger than %d bytes", maxBody)}
			}
			if err := json.Unmarshal(data, in); err != nil {
				return &ticketing.Error{Code: codeBadRequest, Field: "message", Message: "message: must be a JSON object: " + err.Error()}
			}
			sawMessage = true
		case "files":
			if len(blobs) >= files.MaxFiles {
				return &ticketing.Error{Code: ticketing.ETooLarge, Field: "files",
					Message: fmt.Sprintf("files: at most %d files per message", files.MaxFiles)}
			}
			data, err := io.ReadAll(io.LimitReader(p, files.MaxFileSize+1))
			if errors.As(err, &tooBig) || len(data) > files.MaxFileSize {
				return &ticketing.Error{Code: ticketing.ETooLarge, Field: "files",
					Message: fmt.Sprintf("files: %q is larger than the limit of %d MB per file", fileName(p.FileName()), files.MaxFileSize>>20)}
			}
			if err != nil {
				return &ticketing.Error{Code: codeBadRequest, Field: "files", Message: "files: unreadable part"}
			}
			name := fileName(p.FileName())
			b := &ticketing.Blob{Key: files.NewKey(), Filename: name, ContentType: sniff(name, data), Data: data, CreatedAt: s.now().UTC()}
			blobs = append(blobs, b)
			atts = append(atts, ticketing.Attachment{Key: b.Key, Filename: b.Filename, ContentType: b.ContentType, Size: int64(len(data))})
		default:
			_, _ = io.Copy(io.Discard, p)
		}
	}
	if !sawMessage {
		return &ticketing.Error{Code: codeBadRequest, Field: "message", Message: "message: the JSON part \"message\" is required"}
	}
	// Store only once the whole request was read and within limits.
	for _, b := range blobs {
		if err := s.store.PutBlob(r.Context(), b); err != nil {
			return fmt.Errorf("store attachment %s: %w", b.Filename, err)
		}
	}
	in.Attachments = atts
	return nil
}

// fileName keeps the base name of an uploaded file, printable and short.
func fileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || strings.TrimSpace(name) == "" {
		name = "attachment"
	}
	for len(name) > 200 || !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name[:min(len(name), 200)], "")
	}
	return name
}

// sniff decides a file's content type from its bytes (what the agent's
// browser claims is ignored); a generic answer is refined by the name's
// extension for formats the bytes cannot tell apart (office files are zip).
func sniff(name string, data []byte) string {
	ct := http.DetectContentType(data)
	if ct == "application/octet-stream" || ct == "application/zip" || strings.HasPrefix(ct, "text/plain") {
		if byExt := mime.TypeByExtension(strings.ToLower(path.Ext(name))); byExt != "" &&
			!strings.HasPrefix(byExt, "text/html") && !strings.Contains(byExt, "javascript") {
			if !strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(byExt, "text/") {
				return byExt
			}
		}
	}
	return ct
}

// handleSignedFile serves an attachment to someone without a session (a
// chat visitor, an SMS recipient, an MMS provider) who holds a signed,
// unexpired link (package files); like every attachment, only as a
// download.
func (s *Server) handleSignedFile(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	q := r.URL.Query()
	if s.opts.Files == nil || key == "" || !s.opts.Files.Verify(key, q.Get("exp"), q.Get("sig")) {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "this download link is not valid or has expired"))
		return
	}
	s.serveBlob(w, r, key)
}
