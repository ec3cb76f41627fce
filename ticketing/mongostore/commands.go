package mongostore

import (
	"context"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/event"
)

// commandCounts counts the commands this process sends the store, by
// command and collection ("findAndModify/tickets"): the cost of a message
// is mostly how many round trips it takes, and this is where that shows
// (svar_store_commands_total, and svar bench's commands per message).
type commandCounts struct {
	m sync.Map // string → *atomic.Uint64
}

func (c *commandCounts) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		key := e.CommandName
		if el, err := e.Command.IndexErr(0); err == nil {
			if coll, ok := el.Value().StringValueOK(); ok {
				key += "/" + coll
			}
		}
		v, ok := c.m.Load(key)
		if !ok {
			v, _ = c.m.LoadOrStore(key, new(atomic.Uint64))
		}
		v.(*atomic.Uint64).Add(1)
	}}
}

// CommandCounts returns how many commands of each kind ("find/tickets")
// this Store has sent since it was opened.
func (s *Store) CommandCounts() map[string]uint64 {
	out := map[string]uint64{}
	s.commands.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}
