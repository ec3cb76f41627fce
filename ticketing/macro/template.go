package macro

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

// Placeholders a macro's text may use. Each is filled from the ticket, its
// customer, the sending agent or the customer's latest order.
var Placeholders = []string{
	"customer.first_name", "customer.name", "ticket.number", "agent.first_name",
	"order.number", "order.status", "order.tracking_url",
}

var known = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range Placeholders {
		m[p] = true
	}
	return m
}()

// placeholderRE matches {{ name }} and {{ name | default: "text" }}; the
// default is a JSON-style double-quoted string (\" and \\ escape).
var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.]*)\s*(?:\|\s*default\s*:\s*("(?:[^"\\]|\\.)*")\s*)?\}\}`)

// segment is a literal run of text or a placeholder.
type segment struct {
	lit        string
	name       string
	def        string
	hasDefault bool
}

// Template is a parsed macro text.
type Template struct{ segs []segment }

// Parse parses text. An unknown placeholder or a "{{" that is not a
// well-formed placeholder is an invalid-input error naming field.
func Parse(field, text string) (*Template, error) {
	t := &Template{}
	rest := text
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return nil, ticketing.FieldError(field, "has \"}}\" without \"{{\"")
			}
			t.segs = append(t.segs, segment{lit: rest})
			return t, nil
		}
		if strings.Contains(rest[:i], "}}") {
			return nil, ticketing.FieldError(field, "has \"}}\" without \"{{\"")
		}
		if i > 0 {
			t.segs = append(t.segs, segment{lit: rest[:i]})
		}
		loc := placeholderRE.FindStringSubmatchIndex(rest[i:])
		if loc == nil || loc[0] != 0 {
			end := min(len(rest), i+40)
			return nil, ticketing.FieldError(field, "has a malformed placeholder near %q (write {{name}} or {{name | default: \"text\"}})", rest[i:end])
		}
		m := rest[i : i+loc[1]]
		name := rest[i+loc[2] : i+loc[3]]
		if !known[name] {
			return nil, ticketing.FieldError(field, "unknown placeholder {{%s}}; known: %s", name, strings.Join(Placeholders, ", "))
		}
		seg := segment{name: name}
		if loc[4] >= 0 {
			def, err := strconv.Unquote(rest[i+loc[4] : i+loc[5]])
			if err != nil {
				return nil, ticketing.FieldError(field, "placeholder %s has a malformed default", m)
			}
			seg.def, seg.hasDefault = def, true
		}
		t.segs = append(t.segs, seg)
		rest = rest[i+loc[1]:]
	}
}

// Names lists the placeholders the template uses, in order.
func (t *Template) Names() []string {
	var out []string
	for _, s := range t.segs {
		if s.name != "" {
			out = append(out, s.name)
		}
	}
	return out
}

// Render fills the placeholders from values. A placeholder whose value is
// empty takes its default; without one, Render refuses with an
// invalid-input error that names the placeholder: a reply never goes out
// with {{...}} in it.
func (t *Template) Render(values map[string]string) (string, error) {
	var sb strings.Builder
	var missing []string
	for _, s := range t.segs {
		if s.name == "" {
			sb.WriteString(s.lit)
			continue
		}
		v := strings.TrimSpace(values[s.name])
		if v == "" {
			if !s.hasDefault {
				missing = append(missing, "{{"+s.name+"}}")
				continue
			}
			v = s.def
		}
		sb.WriteString(v)
	}
	if len(missing) > 0 {
		return "", &ticketing.Error{Code: ticketing.EInvalid, Field: "macro_id",
			Message: fmt.Sprintf("macro_id: placeholder %s cannot be filled for this ticket and has no default", strings.Join(missing, ", "))}
	}
	return sb.String(), nil
}

// Values are the placeholders' values for a reply on ticket t of customer
// c by agent.
func Values(t *ticketing.Ticket, c *ticketing.Customer, agent *ticketing.Agent) map[string]string {
	v := make(map[string]string, len(Placeholders))
	if c != nil {
		v["customer.name"] = c.Name
		v["customer.first_name"] = firstName(c.Name)
		if o := c.LatestOrder(); o != nil {
			v["order.number"] = o.ID
			v["order.status"] = o.Status
			v["order.tracking_url"] = o.TrackingURL
		}
	}
	if t != nil && t.Number > 0 {
		v["ticket.number"] = strconv.FormatInt(t.Number, 10)
	}
	if agent != nil {
		v["agent.first_name"] = firstName(agent.Name)
	}
	return v
}

func firstName(name string) string {
	f := strings.Fields(name)
	if len(f) == 0 {
		return ""
	}
	if strings.Contains(f[0], "@") {
		return "" // an address stored as the name is no first name
	}
	return f[0]
}
