// Command whittle builds small, secure container images without a daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/whittle-build/whittle/internal/store"
)

func main() { os.Exit(run()) }

// run is the whole command; it returns the exit status. (A sandbox child
// never gets here: package sandbox's init takes it over.)
func run() int {
	// The first SIGINT or SIGTERM cancels the command, which unmounts and
	// cleans up; later ones are ignored while that happens.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var got atomic.Value
	go func() {
		s, ok := <-sigs
		if ok {
			got.Store(s)
			cancel()
		}
	}()
	err := newRoot().ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	if s, ok := got.Load().(os.Signal); ok && errors.Is(err, context.Canceled) {
		// Interrupted: the shell's status for death by that signal.
		fmt.Fprintf(os.Stderr, "ERROR: canceled (%v)\n", s)
		return 128 + int(s.(syscall.Signal))
	}
	fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
	if hint := errorHint(err); hint != "" {
		fmt.Fprintln(os.Stderr, hint)
	}
	return 1
}

// errorHint says what to do about an error that names no remedy itself.
func errorHint(err error) string {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return "The disk is full: `whittle prune` frees what no image or build cache needs, `whittle prune --all` the build cache too, `whittle rmi NAME` an image (`whittle images` lists them)."
	}
	if errors.Is(err, store.ErrNoAccess) {
		return "Run as the store's owner, or give a store of your own with --root DIR (without --root, a user other than root gets $XDG_DATA_HOME/whittle)."
	}
	return ""
}

// exitCode is returned by commands that exit with a given status and
// have already said why (whittle run passes its process's status on).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
