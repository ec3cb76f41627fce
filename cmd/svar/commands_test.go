package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// mainTestArgsEnv makes the test binary run main() with these
// space-separated arguments, as the svar binary would (TestMain).
const mainTestArgsEnv = "SVAR_TEST_MAIN_ARGS"

// runSvar runs main() in a child process with args and returns its
// standard output and error.
func runSvar(t *testing.T, args string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainTestArgsEnv+"="+args)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// TestHelpListsSubcommands: `svar -h` (and --help, help) lists every
// subcommand with a line that says what it does, not only serve's flags.
func TestHelpListsSubcommands(t *testing.T) {
	for _, args := range []string{"-h", "--help", "-help", "help"} {
		t.Run(args, func(t *testing.T) {
			out, errOut, err := runSvar(t, args)
			if err != nil {
				t.Fatalf("svar %s: %v\n%s", args, err, errOut)
			}
			for _, c := range commands() {
				found := false
				for _, line := range strings.Split(out, "\n") {
					f := strings.Fields(line)
					if len(f) >= 3 && f[0] == c.name && strings.Contains(line, c.summary) {
						found = true
					}
				}
				if !found {
					t.Errorf("svar %s does not list %q with its summary:\n%s%s", args, c.name, out, errOut)
				}
			}
			if !strings.Contains(out, "svar serve -h") {
				t.Errorf("svar %s does not say where the settings are:\n%s", args, out)
			}
		})
	}
	for _, want := range []string{"serve", "bench"} {
		found := false
		for _, c := range commands() {
			found = found || c.name == want
		}
		if !found {
			t.Errorf("no %q among the commands", want)
		}
	}
	// An unknown command names the ones there are.
	_, errOut, err := runSvar(t, "frobnicate")
	if err == nil || !strings.Contains(errOut, "serve, bench") {
		t.Fatalf("svar frobnicate: %v %q, want an error naming the commands", err, errOut)
	}
}
