package sandbox

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// heldCapabilities are the capabilities this process holds (its permitted
// set), as runtime-spec names: all that a privileged sandbox can be given.
func heldCapabilities() ([]string, error) {
	c, err := capability.NewPid2(0)
	if err == nil {
		err = c.Load()
	}
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	var out []string
	for _, cp := range supported {
		if c.Get(capability.PERMITTED, cp) {
			out = append(out, "CAP_"+strings.ToUpper(cp.String()))
		}
	}
	return out, nil
}

// privilegedDevices are the devices BuildKit's insecure mode adds outside a
// user namespace: kmsg, cuse, fuse, kvm, net/tun, loop-control, and the
// loop devices up to seven past the first free one.
func privilegedDevices() []specs.LinuxDevice {
	mode := os.FileMode(0o660)
	var zero uint32
	dev := func(p, typ string, major, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: p, Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &zero, GID: &zero}
	}
	out := []specs.LinuxDevice{
		dev("/dev/kmsg", "c", 1, 11),
		dev("/dev/cuse", "c", 10, 203),
		dev("/dev/fuse", "c", 10, 229),
		dev("/dev/kvm", "c", 10, 232),
		dev("/dev/net/tun", "c", 10, 200),
		dev("/dev/loop-control", "c", 10, 237),
	}
	for i := range freeLoop() + 8 {
		out = append(out, dev(fmt.Sprintf("/dev/loop%d", i), "b", 7, int64(i)))
	}
	return out
}

// freeLoop is the number of the first free loop device (0 when it cannot
// be asked).
func freeLoop() int {
	f, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	n, err := unix.IoctlRetInt(int(f.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
