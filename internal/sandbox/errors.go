package sandbox

import (
	"fmt"
	"syscall"
)

// ExitError reports a command that ran (or could not be executed) and did
// not exit with status 0.
type ExitError struct {
	// Code is the exit status: the process's own, 128+n when signal n killed
	// it, 127 when the command was not found and 126 when it could not be
	// executed (the shell's conventions).
	Code int
	// Signal is the signal that killed the process, 0 if it exited.
	Signal syscall.Signal
	// Err says why the command could not be executed (Code 126 or 127); nil
	// when it ran. For a command not found on PATH it wraps exec.ErrNotFound.
	Err error
}

func (e *ExitError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%v (exit code %d)", e.Err, e.Code)
	case e.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%v), exit code %d", int(e.Signal), e.Signal, e.Code)
	}
	return fmt.Sprintf("exit code: %d", e.Code)
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// SetupError reports a failure to set the sandbox up before the command
// started: Op says what failed ("mounting proc on /proc").
type SetupError struct {
	Op  string
	Err error
}

func (e *SetupError) Error() string {
	return fmt.Sprintf("setting up sandbox: %s: %v", e.Op, e.Err)
}

// Unwrap returns Err.
func (e *SetupError) Unwrap() error { return e.Err }

// childError is an error reported by the sandbox child over the sync socket:
// its message, and its errno when it had one, so errors.Is(err, unix.EPERM)
// works in the parent.
type childError struct {
	msg   string
	errno syscall.Errno
}

func (e *childError) Error() string { return e.msg }

func (e *childError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}
