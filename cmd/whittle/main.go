// Command whittle builds small, secure container images without a daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/whittle-build/whittle/internal/sandbox"
)

func main() { os.Exit(run()) }

// run is the whole command; it returns the exit status. The sandbox's
// re-executed child is dispatched first, before any flag is read.
func run() int {
	if sandbox.Init() {
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
	return 1
}

// exitCode is returned by commands that exit with a given status and
// have already said why (whittle run passes its process's status on).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
