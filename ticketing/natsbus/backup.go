package natsbus

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamBackup describes one stream in a backup: its configuration and
// how many messages were copied, in <Name>.jsonl beside the manifest.
type StreamBackup struct {
	Name     string                 `json:"name"`
	Config   jetstream.StreamConfig `json:"config"`
	Messages int                    `json:"messages"`
}

// backupMsg is one line of a stream's .jsonl file.
type backupMsg struct {
	Subject string      `json:"subject"`
	Header  nats.Header `json:"header,omitempty"`
	Data    []byte      `json:"data"`
	Seq     uint64      `json:"seq"`
	Time    time.Time   `json:"time"`
}

// skipInBackup reports whether a stream holds nothing a restored install
// needs: the events stream only serves consoles that catch up (its
// sequences mean nothing after a restore, and read models load from the
// store), leases belong to the nodes running now, and health probes are
// only written to prove that writing works.
func (b *Bus) skipInBackup(name string) bool {
	return name == b.n.events || name == b.n.health || name == "KV_"+b.StreamName(BucketLeases)
}

// ownStream reports whether a stream is Svar's (in this Bus's namespace):
// a SVAR_ stream or a SVAR_ KV bucket.
func (b *Bus) ownStream(name string) bool {
	p := b.StreamName("SVAR_")
	return strings.HasPrefix(name, p) || strings.HasPrefix(name, "KV_"+p)
}

// Backup copies every Svar stream of this Bus (work queues still holding
// unprocessed messages, the dead letters, KV buckets, and streams other
// packages add with a SVAR_ name; not events or leases) into dir, one
// <stream>.jsonl per stream, while nodes run. Each stream is read up to
// its last sequence at the moment its copy starts. Acknowledged work-queue
// messages are gone from the stream and so from the copy; that is why a
// backup copies the streams before the store: whatever a node finished
// between the two copies is in the store's copy.
func (b *Bus) Backup(ctx context.Context, dir string) ([]StreamBackup, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsbus: backup: %w", err)
	}
	var names []string
	lister := b.js.StreamNames(ctx)
	for n := range lister.Name() {
		if b.ownStream(n) && !b.skipInBackup(n) {
			names = append(names, n)
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("natsbus: backup: list streams: %w", err)
	}
	var out []StreamBackup
	for _, n := range names {
		sb, err := b.backupStream(ctx, n, dir)
		if err != nil {
			return out, err
		}
		out = append(out, sb)
	}
	return out, nil
}

func (b *Bus) backupStream(ctx context.Context, name, dir string) (StreamBackup, error) {
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		return StreamBackup{}, fmt.Errorf("natsbus: backup %s: %w", name, err)
	}
	info := s.CachedInfo()
	sb := StreamBackup{Name: name, Config: info.Config}
	f, err := os.OpenFile(filepath.Join(dir, name+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return sb, fmt.Errorf("natsbus: backup %s: %w", name, err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	last := info.State.LastSeq
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= last; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break // nothing at or after seq
		}
		if err != nil {
			return sb, fmt.Errorf("natsbus: backup %s at %d: %w", name, seq, err)
		}
		if m.Sequence > last {
			break
		}
		if err := enc.Encode(backupMsg{Subject: m.Subject, Header: m.Header, Data: m.Data, Seq: m.Sequence, Time: m.Time}); err != nil {
			return sb, fmt.Errorf("natsbus: backup %s: %w", name, err)
		}
		sb.Messages++
		seq = m.Sequence + 1
	}
	if err := w.Flush(); err != nil {
		return sb, fmt.Errorf("natsbus: backup %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return sb, fmt.Errorf("natsbus: backup %s: %w", name, err)
	}
	return sb, nil
}

// Restore brings streams saved by Backup back: it creates each stream that
// does not exist with its saved configuration (replicas set to this Bus's)
// and publishes its messages again, in order, with their headers (so
// Nats-Msg-Id dedupe holds). It refuses a stream that already holds
// messages. Consumers are not restored: nodes create theirs at start, and
// work-queue messages are delivered again (processing is idempotent).
func (b *Bus) Restore(ctx context.Context, dir string, streams []StreamBackup) error {
	for _, sb := range streams {
		if !b.ownStream(sb.Name) || b.skipInBackup(sb.Name) {
			return fmt.Errorf("natsbus: restore: %s is not a stream Svar backs up", sb.Name)
		}
		cfg := sb.Config
		cfg.Replicas = b.opts.Replicas
		s, err := b.js.Stream(ctx, sb.Name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			if s, err = b.js.CreateStream(ctx, cfg); err != nil {
				return fmt.Errorf("natsbus: restore: create %s: %w", sb.Name, err)
			}
		case err != nil:
			return fmt.Errorf("natsbus: restore %s: %w", sb.Name, err)
		case s.CachedInfo().State.Msgs > 0:
			return fmt.Errorf("natsbus: restore: stream %s already holds %d messages", sb.Name, s.CachedInfo().State.Msgs)
		}
		n, err := b.restoreStream(ctx, filepath.Join(dir, sb.Name+".jsonl"))
		if err != nil {
			return fmt.Errorf("natsbus: restore %s: %w", sb.Name, err)
		}
		if n != sb.Messages {
			return fmt.Errorf("natsbus: restore %s: %d messages in the file, the manifest says %d", sb.Name, n, sb.Messages)
		}
	}
	return nil
}

func (b *Bus) restoreStream(ctx context.Context, file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		var m backupMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return n, fmt.Errorf("line %d: %w", n+1, err)
		}
		msg := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
		cctx, cancel := opContext(ctx)
		_, err := b.js.PublishMsg(cctx, msg)
		cancel()
		if err != nil {
			return n, fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		n++
	}
	return n, sc.Err()
}
