package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/svar-dev/svar/ticketing"
)

// maxRawBytes is the largest mail that is fetched whole; a larger one is
// published from its header alone and stays in the mailbox.
const maxRawBytes = 80 << 20

// checkpoint is how far the mailbox has been imported: every UID up to
// LastUID under UIDValidity has been published.
type checkpoint struct {
	UIDValidity int64 `bson:"uid_validity" json:"uid_validity"`
	LastUID     int64 `bson:"last_uid" json:"last_uid"`
}

// checkpointKey is the state key of the mailbox's checkpoint.
func (c *Channel) checkpointKey() string {
	return "email:checkpoint:" + strings.ToLower(c.o.IMAP.Username) + "@" + strings.ToLower(c.o.IMAP.Addr) + "/" + c.mailbox
}

// leaseName names the lease of the mailbox reader: one node at a time
// reads a mailbox.
func (c *Channel) leaseName() string {
	return "email:mailbox:" + strings.ToLower(c.o.IMAP.Username) + "@" + strings.ToLower(c.o.IMAP.Addr) + "/" + c.mailbox
}

var errUIDValidity = errors.New("the mailbox's UIDVALIDITY changed")

// runIngest keeps an IMAP session running until ctx ends, reconnecting
// with backoff. The failure counts survive reconnects, so a mail that
// fails every time is eventually published as a stub.
func (c *Channel) runIngest(ctx context.Context) {
	b := c.newBackoff()
	failures := map[uint32]int{}
	for ctx.Err() == nil {
		connected, err := c.session(ctx, failures)
		if ctx.Err() != nil {
			return
		}
		if connected {
			b.reset()
		}
		d := b.next()
		c.log.Warn("email: IMAP session ended; reconnecting", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return
		}
	}
}

// session connects, catches up with the mailbox and then waits for new
// mail (IDLE, or polling) until something fails or ctx ends. connected
// reports whether it got as far as selecting the mailbox.
func (c *Channel) session(ctx context.Context, failures map[uint32]int) (connected bool, err error) {
	updates := make(chan struct{}, 1)
	client, err := c.dialIMAP(ctx, updates)
	if err != nil {
		return false, errorf("IMAP connect "+c.o.IMAP.Addr, err)
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()

	if err := client.Login(c.o.IMAP.Username, c.o.IMAP.Password).Wait(); err != nil {
		return false, errorf("IMAP login as "+c.o.IMAP.Username, err)
	}
	sel, err := client.Select(c.mailbox, nil).Wait()
	if err != nil {
		return false, errorf("IMAP select "+c.mailbox, err)
	}
	cp, err := c.loadCheckpoint(ctx)
	if err != nil {
		return false, err
	}
	if cp.UIDValidity != int64(sel.UIDValidity) {
		if cp.UIDValidity != 0 {
			c.log.Warn("email: the mailbox's UIDVALIDITY changed; rescanning it (already imported mail is recognised and skipped)",
				"mailbox", c.mailbox, "old", cp.UIDValidity, "new", sel.UIDValidity)
		}
		cp = checkpoint{UIDValidity: int64(sel.UIDValidity)}
		clear(failures)
		if err := c.saveCheckpoint(ctx, cp); err != nil {
			return true, err
		}
	}
	idle := client.Caps().Has(imap.CapIdle)
	c.log.Info("email: reading mailbox", "mailbox", c.mailbox, "idle", idle, "uidvalidity", cp.UIDValidity, "last_uid", cp.LastUID)

	for {
		select {
		case <-updates:
		default:
		}
		if err := c.catchUp(ctx, client, &cp, failures); err != nil {
			return true, err
		}
		if idle {
			err = c.waitIdle(ctx, client, updates)
		} else {
			err = c.waitPoll(ctx, client, updates)
		}
		if err != nil {
			return true, err
		}
		if err := c.checkUIDValidity(client, cp); err != nil {
			return true, err
		}
	}
}

// dialIMAP connects in the configured TLS mode; ctx bounds the dial and
// the TLS handshake. updates gets a signal whenever the server reports a
// new message count.
func (c *Channel) dialIMAP(ctx context.Context, updates chan<- struct{}) (*imapclient.Client, error) {
	cfg := tlsConfig(c.o.IMAP.TLSConfig, c.o.IMAP.Addr)
	opts := &imapclient.Options{
		TLSConfig: cfg,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case updates <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if c.o.IMAP.TLS == TLSImplicit {
		conn, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(dctx, "tcp", c.o.IMAP.Addr)
		if err != nil {
			return nil, err
		}
		return imapclient.New(conn, opts), nil
	}
	conn, err := d.DialContext(dctx, "tcp", c.o.IMAP.Addr)
	if err != nil {
		return nil, err
	}
	if c.o.IMAP.TLS == TLSNone {
		return imapclient.New(conn, opts), nil
	}
	// STARTTLS reads the greeting and upgrades; close the connection if
	// ctx ends meanwhile.
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	defer stop()
	client, err := imapclient.NewStartTLS(conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return client, nil
}

func (c *Channel) loadCheckpoint(ctx context.Context) (checkpoint, error) {
	var cp checkpoint
	err := c.o.Store.GetState(ctx, c.checkpointKey(), &cp)
	if err != nil && !ticketing.IsNotFound(err) {
		return cp, errorf("read checkpoint", err)
	}
	return cp, nil
}

func (c *Channel) saveCheckpoint(ctx context.Context, cp checkpoint) error {
	if err := c.o.Store.PutState(ctx, c.checkpointKey(), cp); err != nil {
		return errorf("save checkpoint", err)
	}
	return nil
}

// checkUIDValidity asks for the mailbox's UIDVALIDITY (servers seldom say
// when it changes under a selected mailbox) and ends the session when it
// changed, so that the next one rescans.
func (c *Channel) checkUIDValidity(client *imapclient.Client, cp checkpoint) error {
	st, err := client.Status(c.mailbox, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		var ierr *imap.Error
		if errors.As(err, &ierr) {
			return nil // a server that refuses STATUS on the selected mailbox
		}
		return errorf("IMAP status", err)
	}
	if st.UIDValidity != 0 && int64(st.UIDValidity) != cp.UIDValidity {
		return errUIDValidity
	}
	return nil
}

// catchUp imports every mail after the checkpoint, in UID order, moving
// the checkpoint after each one.
func (c *Channel) catchUp(ctx context.Context, client *imapclient.Client, cp *checkpoint, failures map[uint32]int) error {
	if mb := client.Mailbox(); mb != nil && mb.NumMessages == 0 {
		return nil
	}
	next := imap.UID(cp.LastUID + 1)
	list, err := client.Fetch(imap.UIDSet{{Start: next, Stop: 0}}, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
	if err != nil {
		return errorf("IMAP fetch new mail", err)
	}
	list = slices.DeleteFunc(list, func(m *imapclient.FetchMessageBuffer) bool { return m.UID < next })
	slices.SortFunc(list, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	for _, m := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		info := mailInfo{UIDValidity: uint32(cp.UIDValidity), UID: uint32(m.UID), Internal: m.InternalDate}
		if err := c.importUID(ctx, client, m, info, failures); err != nil {
			return err
		}
		delete(failures, info.UID)
		cp.LastUID = int64(m.UID)
		if err := c.saveCheckpoint(ctx, *cp); err != nil {
			return err
		}
		if err := c.markSeen(client, m.UID); err != nil {
			return err
		}
	}
	return nil
}

// importUID fetches and imports one mail. A failure that is the mail's own
// (the store works, but not for this mail) counts against it; after
// maxAttempts the mail is published as a stub so the mailbox moves on.
func (c *Channel) importUID(ctx context.Context, client *imapclient.Client, m *imapclient.FetchMessageBuffer, info mailInfo, failures map[uint32]int) error {
	var raw []byte
	var err error
	if m.RFC822Size > maxRawBytes {
		raw, err = c.fetchSection(client, m.UID, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true})
		if err != nil {
			return err
		}
		problem := fmt.Sprintf("the mail is %d MiB, more than the %d MiB Svar imports", m.RFC822Size>>20, maxRawBytes>>20)
		return c.publishStub(ctx, raw, info, problem)
	}
	raw, err = c.fetchSection(client, m.UID, &imap.FetchItemBodySection{Peek: true})
	if err != nil {
		return err
	}
	if raw == nil {
		return nil // expunged meanwhile
	}
	if failures[info.UID] >= c.maxAttempts {
		return c.publishStub(ctx, raw, info, "it failed to import "+fmt.Sprint(failures[info.UID])+" times")
	}
	err = c.importMail(ctx, raw, info)
	if err == nil || ctx.Err() != nil {
		return err
	}
	// Does the store work? Then the failure is this mail's own.
	var cp checkpoint
	if perr := c.o.Store.GetState(ctx, c.checkpointKey(), &cp); perr == nil && !isPublishError(err) {
		failures[info.UID]++
		c.log.Warn("email: a mail failed to import", "uid", info.String(), "attempt", failures[info.UID], "err", err)
	}
	return err
}

// publishError marks a failure of the publisher: the bus, never the mail.
type publishError struct{ error }

func (e publishError) Unwrap() error { return e.error }

func isPublishError(err error) bool {
	var p publishError
	return errors.As(err, &p)
}

func (c *Channel) publishStub(ctx context.Context, raw []byte, info mailInfo, problem string) error {
	env := c.stub(raw, info, problem)
	if env.From.Value == c.addr {
		c.dropOwn(info)
		return nil
	}
	c.log.Error("email: publishing a stub for a mail that cannot be imported; it stays in the mailbox",
		"uid", info.String(), "problem", problem)
	if err := c.o.Publisher.PublishInbound(ctx, env); err != nil {
		return errorf("publish stub "+info.String(), err)
	}
	return nil
}

// fetchSection fetches one body section of one mail; nil when the mail is
// gone.
func (c *Channel) fetchSection(client *imapclient.Client, uid imap.UID, section *imap.FetchItemBodySection) ([]byte, error) {
	msgs, err := client.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, errorf(fmt.Sprintf("IMAP fetch UID %d", uid), err)
	}
	for _, m := range msgs {
		if m.UID == uid {
			b := m.FindBodySection(section)
			if b == nil {
				b = []byte{}
			}
			return b, nil
		}
	}
	return nil, nil
}

// markSeen flags a published mail \Seen, for people who also read the
// mailbox. A server that refuses (a read-only mailbox) is fine.
func (c *Channel) markSeen(client *imapclient.Client, uid imap.UID) error {
	err := client.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	var ierr *imap.Error
	if err != nil && !errors.As(err, &ierr) {
		return errorf("IMAP store \\Seen", err)
	}
	return nil
}

// waitIdle idles until the server reports new mail, idleRecheck passes,
// or ctx ends.
func (c *Channel) waitIdle(ctx context.Context, client *imapclient.Client, updates <-chan struct{}) error {
	cmd, err := client.Idle()
	if err != nil {
		return errorf("IMAP idle", err)
	}
	t := time.NewTimer(c.idleRecheck)
	defer t.Stop()
	select {
	case <-updates:
	case <-t.C:
	case <-ctx.Done():
	case <-client.Closed():
	}
	if err := cmd.Close(); err != nil {
		return errorf("IMAP idle done", err)
	}
	if err := cmd.Wait(); err != nil {
		return errorf("IMAP idle", err)
	}
	return ctx.Err()
}

// waitPoll waits a poll interval (or for news the server volunteers) and
// asks the server for news with NOOP.
func (c *Channel) waitPoll(ctx context.Context, client *imapclient.Client, updates <-chan struct{}) error {
	t := time.NewTimer(c.poll)
	defer t.Stop()
	select {
	case <-updates:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	case <-client.Closed():
		return errors.New("email: the IMAP server closed the connection")
	}
	if err := client.Noop().Wait(); err != nil {
		return errorf("IMAP noop", err)
	}
	return nil
}
