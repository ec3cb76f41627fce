// Package realtime pushes ticketing events to agents' web consoles over
// websockets, on whichever node the console is connected to.
//
// # Where events come from
//
// realtime imports neither NATS nor the store driver. The process wires the
// events stream into the hub (bus.SubscribeEvents → (*Hub).Publish on every
// node: every node sees every event), hands it a Backlog (natsbus.Bus
// satisfies it) so that a console that reconnects can catch up, and
// optionally a ticketing.Relay that carries presence between nodes.
//
// # Fan-out
//
// Publish encodes an event to JSON once, wraps the bytes in a
// websocket.PreparedMessage shared by every session, and offers it to each
// local session's bounded buffer without blocking. A session whose buffer is
// full is a slow consumer: it gets a final error frame
// {"type":"error","error":{"code":"slow_consumer",...}} and the close code
// 1008, and is counted in Stats. The hub never waits for a socket and never
// drops an event silently: a console either receives every event in order or
// is told it was disconnected, and reconnects with ?since=<last seq>.
//
// Typing and presence frames are ephemeral: they say how things are now and
// are repeated, so they have a small share of the buffer of their own and are
// dropped (counted in Stats.EphemeralDropped) when it is full or when durable
// frames fill half the buffer. Only durable frames count toward the
// slow-consumer cut: no rate of customers' typing can cut a console off. A
// chat customer's typing is also coalesced per customer on every node: at
// most one customer.typing per customer per second, the latest state last.
// Both obey the sessions' viewers as events do: presence goes to who may see
// its ticket, a customer's typing to who may see their latest ticket
// (CustomerTickets), and presence for a ticket an agent may not see is
// refused.
//
// Publish keeps the order of its callers: call it from one goroutine (the
// events subscription) so that sessions see events in stream order.
//
// # The /api/v1/live protocol (JSON text frames)
//
// Server to console:
//
//	{"type":"hello","seq":N}                      first frame; N is the last event seq this node has seen
//	{"type":"ticket.created"|"ticket.updated"|"message.created"|"message.updated"|"customer.updated",
//	 "ticket":{...},"message":{...},"customer":{...},"at":"...","seq":N}   one event per frame
//	{"type":"resync","seq":N}                     missed events could not all be replayed (see Resume):
//	                                              reload lists and open tickets from the API; live events follow
//	{"type":"presence","ticket_id":"...","agent":{"id","name"},"state":"viewing"|"typing"|"left","at":"..."}
//	{"type":"pong"}                               the answer to a console's {"type":"ping"}
//	{"type":"error","error":{"code":"...","message":"..."}}
//
// Console to server:
//
//	{"type":"presence","ticket_id":"...","state":"viewing"|"typing"|"left"}
//	{"type":"ping"}
//
// Resume: with ?since=<seq> the session subscribes to live events first (they
// wait in its buffer), then replays Backlog.EventsAfter(since) page by page
// up to the hello seq, then sends the buffered live events, dropping those
// with a seq it has already replayed (or, for since, that the console has).
// The console sees every event after since once, in order. Events with
// seq 0 (unsequenced) are always delivered. When that cannot be promised the
// console gets {"type":"resync","seq":N} (events up to N were sent) and
// should reload from the API: the backlog failed or is not configured, more
// than Options.MaxReplay events were missed, missed events have expired
// from the stream, or since is ahead of what this node has seen.
//
// Close codes: 1001 when the node shuts down (reconnect to another node),
// 1008 after an error frame: "slow_consumer" (reconnect with ?since=) or
// "unauthorized" (the agent was signed out or deactivated: do not
// reconnect), 1009 when a console frame exceeds Options.MaxMessageBytes.
//
// # Presence
//
// A console reports which ticket its agent is viewing or typing in. The hub
// publishes it on the relay topic "presence"; every node (this one included)
// remembers it per ticket and pushes it to all its sessions. An entry
// expires after Options.PresenceTTL (30 s) without a refresh, so a console
// repeats "viewing" about every 10 s while a ticket is open, and a console
// that reports "viewing" is sent who else is on that ticket. When a session
// ends, "left" is published for the tickets it was on. Without a relay,
// presence stays on this node.
//
// The hub also answers the relay request "agents.online" with true while
// this node holds at least one agent session (the chat widget uses it to say
// that nobody is online). It subscribes to that topic only while it holds a
// session, so with no agent anywhere the request has no responders and is
// answered at once, and it publishes "agents.changed" when its first
// session opens or its last closes, so that the chat tells open widgets
// without waiting for its next poll. DisconnectAgent is relayed on
// "agents.disconnect" so that the agent's consoles on every node close.
//
// # Lifecycle and locks
//
// Each session has a writer goroutine owned by the hub and a reader that runs
// in the ServeAgent call; Close closes every socket with 1001 and waits for
// all of them (http.Server.Shutdown does not close hijacked connections).
// Hub.mu and presenceBook.mu are never held together; Hub.onlineMu is taken
// before Hub.mu.
package realtime
