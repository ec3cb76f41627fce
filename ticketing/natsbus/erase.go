package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EraseMatching deletes, from Svar's streams (inbound envelopes, outbound
// replies, events, dead letters and jobs), every message whose data or
// headers contain any of needles (a customer's id, ticket ids and
// addresses). It deletes with DeleteMsg: the message is gone for every
// reader at once and its bytes go when the file store compacts or ages
// out the block (SecureDeleteMsg, which overwrites at once, costs about
// three times the whole erasure; see docs/operations.md). Subjects are not
// per customer, so the streams are read through, up to their last message
// at the start: with batched direct gets where the server has them (2.11
// and later), else the work queues message by message and the others with
// an ordered consumer. It returns how many messages were deleted.
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
	sns := make([]string, len(ns))
	for i, n := range ns {
		sns[i] = string(n)
	}
	match := func(data []byte, hdr map[string][]string) bool {
		for _, n := range ns {
			if bytes.Contains(data, n) {
				return true
			}
		}
		for k, vs := range hdr {
			if directGetHeaders[k] {
				continue // what the server says about the message, not in it
			}
			for _, v := range vs {
				for _, n := range sns {
					if strings.Contains(v, n) {
						return true
					}
				}
			}
		}
		return false
	}
	// The streams at once: each read waits mostly on the server.
	names := []string{b.n.inbound, b.n.outbound, b.n.events, b.n.dlq, b.n.jobs}
	counts := make([]int, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			start := time.Now()
			counts[i], errs[i] = b.eraseIn(ctx, name, match)
			b.log.Debug("natsbus: erased from stream", "stream", name, "deleted", counts[i], "took", time.Since(start))
		})
	}
	wg.Wait()
	total := 0
	for i, n := range counts {
		total += n
		if errs[i] != nil {
			return total, fmt.Errorf("natsbus: erase from %s: %w", names[i], errs[i])
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
	switch {
	case info.Config.AllowDirect && b.batchGet:
		seqs, err = b.matchDirect(ctx, name, first, last, match)
	case info.Config.Retention == jetstream.WorkQueuePolicy:
		seqs, err = matchBySeq(ctx, st, first, last, match)
	default:
		seqs, err = matchOrdered(ctx, st, last, match)
	}
	if err != nil {
		return 0, err
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

// errCodeSequenceNotFound is the server's "sequence {seq} not found": a
// delete of a work queue's message that its consumer acknowledged (and so
// removed) since it was read.
const errCodeSequenceNotFound jetstream.ErrorCode = 10043

// isNoMsg reports a delete of a message that is gone already (another
// eraser took it first, or a work queue's consumer acknowledged it since
// it was read): the server answers 10037 or 10043, which the client may
// pass on only as the text of "message deletion unsuccessful" (10057),
// like its "no message found".
func isNoMsg(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound || apiErr.ErrorCode == errCodeSequenceNotFound) {
		return true
	}
	if !errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return false
	}
	e := err.Error()
	return strings.Contains(e, "no message found") || strings.Contains(e, "err_code=10043")
}

// directGetHeaders are the headers a direct get adds to each message.
var directGetHeaders = map[string]bool{jetstream.StreamHeader: true, jetstream.SubjectHeader: true,
	jetstream.SequenceHeader: true, jetstream.TimeStampHeaer: true, "Nats-Num-Pending": true, "Nats-Last-Sequence": true}

// directBatch is how many messages one batched direct get asks for.
const directBatch = 2000

// matchDirect reads the stream from first to last with batched direct gets
// (nats-server 2.11 and later; the stream must allow direct access): a
// thousand messages an answer, from any replica, with no consumer, so work
// queues can be read too. A replica behind the leader may answer short of
// last; it is asked again until last is read or is gone.
func (b *Bus) matchDirect(ctx context.Context, stream string, first, last uint64, match func([]byte, map[string][]string) bool) ([]uint64, error) {
	// A long stream is read in a few ranges at once.
	parts := min(directParts, max(1, int((last-first+1)/directPartMin)))
	if parts == 1 {
		return b.matchDirectRange(ctx, stream, first, last, match)
	}
	size := (last - first + 1) / uint64(parts)
	found := make([][]uint64, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := first+uint64(i)*size, first+uint64(i+1)*size-1
		if i == parts-1 {
			hi = last
		}
		wg.Go(func() { found[i], errs[i] = b.matchDirectRange(ctx, stream, lo, hi, match) })
	}
	wg.Wait()
	var seqs []uint64
	for i := range parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		seqs = append(seqs, found[i]...)
	}
	return seqs, nil
}

// directParts ranges of at least directPartMin messages are read at once.
const directParts = 4

var directPartMin uint64 = 25_000

// matchDirectRange is matchDirect over first..last.
func (b *Bus) matchDirectRange(ctx context.Context, stream string, first, last uint64, match func([]byte, map[string][]string) bool) ([]uint64, error) {
	var seqs []uint64
	subj := "$JS.API.DIRECT.GET." + stream
	short := 0
	for seq := first; seq <= last; {
		// A batch stops at its size, not at last (the server's up_to_seq
		// bounds only multi-subject gets): ask for no more than is left.
		req, _ := json.Marshal(struct {
			Seq   uint64 `json:"seq"`
			Batch int    `json:"batch"`
		}{seq, int(min(directBatch, last-seq+1))})
		read, pending, err := b.directGet(ctx, subj, req, func(m *nats.Msg, mseq uint64) {
			if mseq <= last && match(m.Data, m.Header) {
				seqs = append(seqs, mseq)
			}
		})
		if err != nil {
			return nil, err
		}
		if read >= seq {
			seq = read + 1
		}
		if pending == 0 && seq <= last {
			// The rest up to last is deleted, or this replica is behind.
			if short++; short > 3 {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		short = 0
	}
	return seqs, nil
}

// directGet sends one batched direct get and hands each message to fn
// until the server's end of batch, returning the last sequence read and
// how many messages are left after it.
func (b *Bus) directGet(ctx context.Context, subj string, req []byte, fn func(*nats.Msg, uint64)) (read, pending uint64, err error) {
	inbox := b.nc.NewRespInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, 0, err
	}
	defer sub.Unsubscribe() //nolint:errcheck // the inbox is this call's alone
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return 0, 0, err
	}
	if err := b.nc.PublishRequest(subj, inbox, req); err != nil {
		return 0, 0, err
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return read, 0, fmt.Errorf("direct get: %w", err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
			if err != nil {
				return read, 0, fmt.Errorf("direct get: a message without its sequence")
			}
			fn(m, seq)
			read = seq
		case "204": // end of batch
			pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return read, pending, nil
		case "404": // nothing from here on
			return read, 0, nil
		default:
			return read, 0, fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description"))
		}
	}
}

// matchBySeq reads a work queue message by message (a work queue allows
// no second consumer over its subjects); for servers without batched
// direct gets.
func matchBySeq(ctx context.Context, st jetstream.Stream, first, last uint64, match func([]byte, map[string][]string) bool) ([]uint64, error) {
	var seqs []uint64
	for seq := first; seq <= last; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if match(m.Data, m.Header) {
			seqs = append(seqs, seq)
		}
	}
	return seqs, nil
}

// matchOrdered reads a stream with an ordered consumer up to last; for
// servers without batched direct gets.
func matchOrdered(ctx context.Context, st jetstream.Stream, last uint64, match func([]byte, map[string][]string) bool) ([]uint64, error) {
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, err
	}
	var seqs []uint64
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
			return nil, err
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
			return nil, err
		}
		if got == 0 {
			empty++
			done = empty > 1
		} else {
			empty = 0
		}
	}
	return seqs, nil
}
