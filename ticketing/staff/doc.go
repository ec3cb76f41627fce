// Package staff is who works in Svar: agents, their roles and teams,
// sign-in (argon2id passwords, TOTP two-factor), sessions and API tokens,
// sign-in throttling, and the ticketing.Viewer that every read path obeys.
// The web layer maps HTTP to this service; the service keeps its data in
// the store (agents, sessions, and _id-keyed state documents for teams and
// throttles), so any number of nodes share it.
package staff
