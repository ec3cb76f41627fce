// Package email is Svar's email channel: it reads the support mailbox over
// IMAP and sends agents' replies over SMTP.
//
// Inbound, a Channel keeps one IMAP connection to the mailbox. It waits
// with IDLE where the server offers it and polls otherwise, and reconnects
// with backoff. Every new mail, in UID order, is first stored raw in the
// blob store, then parsed (charsets, quoted history, sanitized HTML,
// attachments, auto-reply and bounce detection) into a
// ticketing.Envelope and published. The mailbox checkpoint, UIDVALIDITY
// and the last UID, advances only after the publisher has returned for a
// mail, so a crash at any point re-reads a mail rather than losing it; the
// envelope's external id (the Message-ID, or a content hash) makes the
// re-read a duplicate that the bus and the core drop. A mail that cannot be
// parsed is published with its original attached, and a mail that keeps
// failing is published as a stub after a few attempts: nothing blocks the
// mailbox.
//
// Outbound, a Channel consumes ticketing.ChannelEmail replies from the bus,
// composes a multipart/alternative mail with a Message-ID of its own
// (<svar.<message id>@<domain>>, fixed per message), the ticket token
// [#number] in the subject and In-Reply-To/References for the customer's
// mail client, and sends it over SMTP. Temporary failures (4xx, network)
// are retried by the bus; permanent ones (5xx) mark the message failed.
// A send record in the state store keeps a redelivered reply from going
// out twice: it says "sending" from just before the mail's final "." and
// "sent" once the server accepted it, and a reply whose answer never came
// is marked failed as unconfirmed rather than sent again.
package email
