package main

import (
	"context"
	"fmt"
	"io"
)

// runBench runs `svar bench`.
func runBench(ctx context.Context, args []string, out io.Writer) error {
	return fmt.Errorf("bench: not built yet")
}
