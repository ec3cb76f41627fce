// Package chat is the customers' chat channel: the embeddable widget
// (GET /widget.js), the demo shop (GET /demo) and the websocket the widget
// talks to (GET /chat/ws).
//
// A visitor is known by a random token the widget keeps in localStorage;
// the visitor id is derived from the token (the first half of its
// SHA-256), so a token belongs to one visitor and nothing is stored for
// it. A shop that knows its customer signs their id (hex HMAC-SHA256 with
// the identity secret); a valid signature makes the sender the verified
// identity external:<id>, anything else stays an anonymous visitor. Emails
// a visitor types are claims, never verified identities.
//
// Inbound: each message frame becomes a ticketing.Envelope with the
// external id "<visitor id>:<client id>", published to JetStream; the echo
// goes back only after the publish returns, and a resent client id is the
// same envelope, stored once.
//
// Outbound: Run consumes the chat outbound stream. A reply is requested on
// the relay topics of the customer's chat identities (chat.visitor.<id>,
// chat.external.<sha256 of the external id>); each node subscribes once
// per topic while it holds sockets for it and fans out locally. Nobody
// online: the reply waits the grace period as a delayed redelivery of the
// bus, then goes out by email (batched), or stays queued for the visitor's
// next welcome when there is no address.
package chat
