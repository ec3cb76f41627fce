package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/svar-dev/svar/ticketing"
)

// relayRequestTimeout bounds a Request whose ctx has no deadline.
const relayRequestTimeout = 2 * time.Second

// handledReply is what a subscriber that handled a request answers.
var handledReply = []byte{'1'}

// validTopic reports whether topic is dot-separated tokens of
// [A-Za-z0-9_-]: no wildcards, no empty tokens.
func validTopic(topic string) bool {
	if topic == "" {
		return false
	}
	for tok := range strings.SplitSeq(topic, ".") {
		if !validToken(tok) {
			return false
		}
	}
	return true
}

func (b *Bus) relaySubject(topic string) (string, error) {
	if !validTopic(topic) {
		return "", ticketing.FieldError("topic", "must be dot-separated tokens of letters, digits, _ and -")
	}
	return b.n.relaySubj + topic, nil
}

// Publish sends payload to every subscriber of topic on every node (core
// NATS: at most once, not stored).
func (b *Bus) Publish(ctx context.Context, topic string, payload []byte) error {
	subj, err := b.relaySubject(topic)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("natsbus: relay publish %s: %w", topic, err)
	}
	if err := b.nc.Publish(subj, payload); err != nil {
		return fmt.Errorf("natsbus: relay publish %s: %w", topic, err)
	}
	return nil
}

// Request sends payload to every subscriber of topic and reports whether
// one of them handled it. No subscriber, or none answering before ctx's
// deadline (2s when ctx has none), is (false, nil). A cancelled ctx is an
// error.
func (b *Bus) Request(ctx context.Context, topic string, payload []byte) (bool, error) {
	subj, err := b.relaySubject(topic)
	if err != nil {
		return false, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, relayRequestTimeout)
		defer cancel()
	}
	_, err = b.nc.RequestWithContext(ctx, subj, payload)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrTimeout):
		return false, nil
	default:
		return false, fmt.Errorf("natsbus: relay request %s: %w", topic, err)
	}
}

// Subscribe calls fn for each payload on topic on this node, one at a
// time, until cancel is called. When fn returns true for a Request, this
// node answers it; when it returns false it stays silent, so another node
// may answer.
func (b *Bus) Subscribe(topic string, fn func(payload []byte) bool) (func(), error) {
	subj, err := b.relaySubject(topic)
	if err != nil {
		return nil, err
	}
	d := b.relay
	d.mu.Lock() // the dispatcher waits for the registration
	sub, err := b.nc.ChanSubscribe(subj, d.ch)
	if err == nil {
		d.fns[sub] = fn
	}
	d.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("natsbus: relay subscribe %s: %w", topic, err)
	}
	return func() {
		// Unsubscribing twice, or after Close, is harmless.
		_ = sub.Unsubscribe()
		d.mu.Lock()
		delete(d.fns, sub)
		d.mu.Unlock()
	}, nil
}

// relayBuffer is how many relay messages may wait for the dispatcher.
const relayBuffer = 1 << 16

// relayDispatch delivers the messages of every relay subscription of the
// Bus from one channel on one goroutine. A node holds a subscription per
// chat visitor it serves; with a callback each, the NATS client would run
// a goroutine (and its stack) per visitor. Subscribers' functions are
// quick (they enqueue), and one goroutine keeps each topic in order.
type relayDispatch struct {
	ch   chan *nats.Msg
	mu   sync.RWMutex
	fns  map[*nats.Subscription]func([]byte) bool
	stop chan struct{}
	done chan struct{}
}

func newRelayDispatch() *relayDispatch {
	return &relayDispatch{ch: make(chan *nats.Msg, relayBuffer), fns: map[*nats.Subscription]func([]byte) bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (d *relayDispatch) run(log *slog.Logger) {
	defer close(d.done)
	for {
		select {
		case <-d.stop:
			return
		case m := <-d.ch:
			d.mu.RLock()
			fn := d.fns[m.Sub]
			d.mu.RUnlock()
			if fn != nil && fn(m.Data) && m.Reply != "" {
				if err := m.Respond(handledReply); err != nil {
					log.Warn("natsbus: relay answer failed", "subject", m.Subject, "err", err)
				}
			}
		}
	}
}

// close stops the dispatcher and waits for it.
func (d *relayDispatch) close() {
	close(d.stop)
	<-d.done
}
