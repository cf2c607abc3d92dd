package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostsFile is the /etc/hosts a sandbox gets: localhost and the hostname on
// the loopback addresses, the content BuildKit writes, then the extra
// lines (`--add-host`, "IP\tNAME").
func hostsFile(hostname string, extra []string) []byte {
	b := fmt.Appendf(nil, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname)
	for _, l := range extra {
		b = append(b, strings.TrimSuffix(l, "\n")...)
		b = append(b, '\n')
	}
	return b
}

// WriteHostsFile writes the /etc/hosts a sandbox with this hostname ("" is
// DefaultHostname) gets, with the extra lines after the defaults, into a
// new directory under parent ("" is the system's temporary directory) that
// any user may read (the sandbox's root may be another uid). Bind it
// read-only at /etc/hosts through [Options.Mounts]; cleanup removes it.
func WriteHostsFile(parent, hostname string, extra []string) (path string, cleanup func(), err error) {
	if hostname == "" {
		hostname = DefaultHostname
	}
	dir, err := os.MkdirTemp(parent, "whittle-hosts-")
	if err != nil {
		return "", nil, fmt.Errorf("writing /etc/hosts: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "hosts")
	err = os.Chmod(dir, 0o755)
	if err == nil {
		err = os.WriteFile(path, hostsFile(hostname, extra), 0o644)
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("writing /etc/hosts: %w", err)
	}
	return path, cleanup, nil
}

// HostsMount is the read-only bind mount of a hosts file at /etc/hosts.
func HostsMount(path string) specs.Mount {
	return specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: path, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}
}
