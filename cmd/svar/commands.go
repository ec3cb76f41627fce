package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand of svar.
type command struct {
	name    string
	summary string // one line for `svar -h`
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

// commands are svar's subcommands, in the order `svar -h` lists them.
// Add new ones here: the help and the dispatch both come from this list.
func commands() []command {
	return []command{
		{"serve", "run a Svar node: the console, the API, the chat widget and the channels (the default without a command)",
			func(ctx context.Context, args []string, _ io.Writer) error { return serve(ctx, args) }},
		{"bench", "run the benchmarks on embedded defaults and print BENCH <name> <value> <unit> lines",
			runBench},
		{"backup", "copy the embedded store and the JetStream state while the node runs: svar backup --to DIR",
			runBackup},
		{"restore", "bring a backup into the configured, empty data dir: svar restore --from DIR",
			runRestore},
		{"admin", "account recovery: \"svar admin reset-password --email E\" prints a new one-time password (works while a node runs)",
			runAdmin},
		{"help", "show this list", func(_ context.Context, _ []string, stdout io.Writer) error {
			usage(stdout)
			return nil
		}},
	}
}

// usage prints the subcommands, one line each.
func usage(w io.Writer) {
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	var b strings.Builder
	b.WriteString("Svar: an omnichannel helpdesk (email, chat, SMS) on NATS and MongoDB.\n\n")
	b.WriteString("Usage: svar [command] [flags]\n\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\nWithout a command svar serves. \"svar <command> -h\" lists a command's flags;\n" +
		"\"svar serve -h\" lists every setting with its environment variable.\n")
	_, _ = io.WriteString(w, b.String())
}

// dispatch runs the subcommand args name (serve when args start with a
// flag or are empty). -h, -help and --help alone print usage.
func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 1 {
		switch args[0] {
		case "-h", "-help", "--help":
			usage(stdout)
			return nil
		}
	}
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	var names []string
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, stdout)
		}
		names = append(names, c.name)
	}
	return fmt.Errorf("unknown command %q (want one of: %s; svar -h says what each does)", name, strings.Join(names, ", "))
}
