package sandbox

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&ExitError{Code: 3}, "exit code: 3"},
		{&ExitError{Code: 137, Signal: syscall.SIGKILL}, "killed by signal 9 (killed), exit code 137"},
		{&ExitError{Code: 127, Err: &exec.Error{Name: "foo", Err: exec.ErrNotFound}}, `exec: "foo": executable file not found in $PATH (exit code 127)`},
		{&SetupError{Op: "mounting proc on /proc", Err: &childError{msg: "operation not permitted", errno: syscall.EPERM}}, "setting up sandbox: mounting proc on /proc: operation not permitted"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	se := &SetupError{Op: "x", Err: &childError{msg: "m", errno: syscall.EPERM}}
	if !errors.Is(se, syscall.EPERM) {
		t.Errorf("a SetupError does not unwrap to its errno")
	}
	ee := &ExitError{Code: 127, Err: &exec.Error{Name: "foo", Err: exec.ErrNotFound}}
	if !errors.Is(ee, exec.ErrNotFound) {
		t.Errorf("an ExitError for a missing command is not exec.ErrNotFound")
	}
}
