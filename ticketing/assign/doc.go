// Package assign routes tickets to teams and gives the tickets of
// auto-assign teams to their online agents.
//
// Every node keeps a read model of who holds which open ticket (Model),
// fed from every event in stream order like the inbox. It holds the open
// and pending tickets only (loaded from the query index at start, by
// status), so its memory follows the shop's backlog, not its history; of
// solved and closed tickets it remembers the last 50,000 (version and
// assignee), and a returning customer's older previous ticket is read from
// the store by _id. Decisions are made
// by one durable JetStream consumer on the events stream, shared by every
// node with MaxAckPending 1: one decision at a time across all nodes,
// redelivered elsewhere when a node dies before acknowledging. Before it
// decides, a node waits until its model has applied every event stored so
// far, so it sees the decisions other nodes made just before. A decision is
// written through the core's update path (Service.UpdateTicket), so
// ticket.updated carries the assignee and assignment_reason says why.
//
// Hand-back (an agent offline with unanswered tickets) is a second durable
// consumer of agent.availability events, delayed by redelivery.
package assign
