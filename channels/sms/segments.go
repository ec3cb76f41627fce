package sms

import (
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/svar-dev/svar/ticketing"
)

// Encodings an SMS is sent in.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// DefaultMaxSegments is the longest reply, in segments, when
// Options.MaxSegments is zero. Providers concatenate at most about ten
// segments reliably, and each segment is billed.
const DefaultMaxSegments = 10

// gsm7Basic is the GSM 03.38 default alphabet (one septet each); the
// escape at 0x1B is left out. Swedish, Norwegian, Danish and Finnish
// letters (å ä ö æ ø é ü) are all here.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension are the characters sent as an escape plus one septet.
const gsm7Extension = "\f^{}\\[~]|€"

// Segment sizes: a single message, and each part of a concatenated one
// (the user data header takes the rest).
const (
	gsmSingle = 160
	gsmPart   = 153
	ucsSingle = 70
	ucsPart   = 67
)

// Segments reports how many SMS segments text takes and its encoding:
// GSM-7 when every character is in the GSM 03.38 alphabet (extension
// characters such as € and [ count double), else UCS-2, where characters
// outside the Basic Multilingual Plane (emoji) count double. A character
// is never split across two segments. Empty text is (0, GSM-7).
func Segments(text string) (count int, encoding string) {
	if text == "" {
		return 0, EncodingGSM7
	}
	if units, ok := gsmUnits(text); ok {
		return pack(units, gsmSingle, gsmPart), EncodingGSM7
	}
	var units []int
	for _, r := range text {
		if utf16.RuneLen(r) == 2 {
			units = append(units, 2)
		} else {
			units = append(units, 1)
		}
	}
	return pack(units, ucsSingle, ucsPart), EncodingUCS2
}

// gsmUnits returns each character's size in septets, or false when text
// needs UCS-2.
func gsmUnits(text string) ([]int, bool) {
	units := make([]int, 0, len(text))
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			units = append(units, 1)
		case strings.ContainsRune(gsm7Extension, r):
			units = append(units, 2)
		default:
			return nil, false
		}
	}
	return units, true
}

// pack counts the segments that units fill: one if they fit in single,
// else parts of at most part units, a character never split between two.
func pack(units []int, single, part int) int {
	total := 0
	for _, u := range units {
		total += u
	}
	if total <= single {
		return 1
	}
	count, used := 1, 0
	for _, u := range units {
		if used+u > part {
			count++
			used = 0
		}
		used += u
	}
	return count
}

// CheckReply checks an agent's reply before it is stored: it refuses empty
// text and text longer than the configured number of segments with a
// ticketing.FieldError on "text", and returns the meta to store on the
// message, {"sms_segments": "2", "sms_encoding": "GSM-7"}, so the agent
// sees what the reply costs.
func (c *Channel) CheckReply(text string) (map[string]string, error) {
	return CheckText(text, c.maxSegments)
}

// CheckText is CheckReply with an explicit limit (0: DefaultMaxSegments).
func CheckText(text string, maxSegments int) (map[string]string, error) {
	if maxSegments <= 0 {
		maxSegments = DefaultMaxSegments
	}
	if strings.TrimSpace(text) == "" {
		return nil, ticketing.FieldError("text", "is empty")
	}
	n, enc := Segments(text)
	if n > maxSegments {
		per := gsmPart
		if enc == EncodingUCS2 {
			per = ucsPart
		}
		return nil, ticketing.FieldError("text",
			"is too long for SMS: %d segments (%s) where at most %d are allowed; keep it under about %d characters",
			n, enc, maxSegments, per*maxSegments)
	}
	return map[string]string{"sms_segments": strconv.Itoa(n), "sms_encoding": enc}, nil
}
