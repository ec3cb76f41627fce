package main

import (
	"context"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/web"
)

// channels holds the channel adapters this node runs.
type channels struct {
	closers []func()
}

func (c *channels) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// startChannels starts the configured channel adapters and returns their
// HTTP routes. checks receives per-channel reply validators.
func (m *Main) startChannels(ctx context.Context, checks map[ticketing.Channel]func(string) (map[string]string, error)) ([]web.Router, error) {
	return nil, nil
}
