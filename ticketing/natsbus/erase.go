package natsbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EraseMatching deletes, from Svar's streams (inbound envelopes, outbound
// replies, events, dead letters and jobs), every message whose data or
// headers contain any of needles (a customer's id, ticket ids and
// addresses). It deletes with DeleteMsg: the message is gone for every
// reader at once and its bytes go when the file store compacts or ages
// out the block (SecureDeleteMsg, which overwrites at once, costs about
// three times the whole erasure; see docs/operations.md). Subjects are not
// per customer, so the streams are read through: the work queues message
// by message (they hold only what is not yet processed), the others with
// an ordered consumer up to their last message at the start. It returns
// how many messages were deleted.
func (b *Bus) EraseMatching(ctx context.Context, needles [][]byte) (int, error) {
	var ns [][]byte
	for _, n := range needles {
		if len(n) >= 3 {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return 0, nil
	}
	match := func(data []byte, hdr map[string][]string) bool {
		for _, n := range ns {
			if bytes.Contains(data, n) {
				return true
			}
			for _, vs := range hdr {
				for _, v := range vs {
					if bytes.Contains([]byte(v), n) {
						return true
					}
				}
			}
		}
		return false
	}
	total := 0
	for _, name := range []string{b.n.inbound, b.n.outbound, b.n.events, b.n.dlq, b.n.jobs} {
		n, err := b.eraseIn(ctx, name, match)
		total += n
		if err != nil {
			return total, fmt.Errorf("natsbus: erase from %s: %w", name, err)
		}
	}
	return total, nil
}

func (b *Bus) eraseIn(ctx context.Context, name string, match func([]byte, map[string][]string) bool) (int, error) {
	st, err := b.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	info := st.CachedInfo()
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 || last < first {
		return 0, nil
	}
	var seqs []uint64
	if info.Config.Retention == jetstream.WorkQueuePolicy {
		// A work queue allows no second consumer over its subjects: read by
		// sequence.
		for seq := first; seq <= last; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return 0, err
			}
			if match(m.Data, m.Header) {
				seqs = append(seqs, seq)
			}
		}
	} else {
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return 0, err
		}
		empty := 0
		for done := false; !done; {
			// No wait: a batch ends with what the stream holds now rather
			// than waiting for more to arrive (a batch that waits runs to
			// its timeout whenever fewer messages than its size are left).
			// An empty answer before the end is asked again once, waiting.
			var batch jetstream.MessageBatch
			if empty == 0 {
				batch, err = cons.FetchNoWait(1000)
			} else {
				batch, err = cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
			}
			if err != nil {
				return 0, err
			}
			got := 0
			for m := range batch.Messages() {
				got++
				md, err := m.Metadata()
				if err != nil {
					continue
				}
				if match(m.Data(), m.Headers()) {
					seqs = append(seqs, md.Sequence.Stream)
				}
				// The last message at the start may be deleted since; no
				// message pending means this was the last one there is,
				// so the read ends without waiting out the fetch.
				if md.Sequence.Stream >= last || md.NumPending == 0 {
					done = true
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
				return 0, err
			}
			if got == 0 {
				empty++
				done = empty > 1
			} else {
				empty = 0
			}
		}
	}
	// Deletes are requests to the server: a few at once.
	var (
		mu       sync.Mutex
		n        int
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan uint64)
	for range min(16, len(seqs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range next {
				err := st.DeleteMsg(ctx, seq)
				mu.Lock()
				switch {
				case err == nil:
					n++
				case errors.Is(err, jetstream.ErrMsgNotFound) || isNoMsg(err):
				case firstErr == nil:
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, seq := range seqs {
		next <- seq
	}
	close(next)
	wg.Wait()
	return n, firstErr
}

// isNoMsg reports a delete of a message that is gone already (another
// eraser took it first): the server answers 10037, or "message deletion
// unsuccessful" (10057) saying "no message found", which the client
// passes on as text only.
func isNoMsg(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound {
		return true
	}
	return errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) && strings.Contains(err.Error(), "no message found")
}
