// Package sms is Svar's SMS channel: customers text the shop's number and
// agents answer from the same ticket.
//
// One Provider interface has two implementations, chosen by
// SVAR_SMS_PROVIDER: Twilio (twilio.go) and 46elks (elks.go). Inbound
// webhooks are verified first (Twilio's X-Twilio-Signature over
// SVAR_PUBLIC_URL, 46elks' basic auth with SVAR_ELKS_WEBHOOK_SECRET), the
// sender is normalised to E.164 (phone.go), and the envelope is published
// to SVAR_INBOUND before the webhook is answered, so a failure makes the
// provider retry and nothing is lost. Replays are deduplicated by the
// provider's message id.
//
// Replies are consumed from SVAR_OUTBOUND (outbound.go). A send record in
// the state store, written as soon as the provider accepts a message,
// keeps a redelivery from texting the customer twice. Opt-out keywords
// (optout.go) are honoured before every send, and segments.go counts GSM-7
// and UCS-2 segments so that overlong replies are refused before they are
// stored.
package sms
