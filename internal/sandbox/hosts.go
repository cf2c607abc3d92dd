package sandbox

import "fmt"

// hostsFile is the /etc/hosts a sandbox gets: localhost and the hostname on
// the loopback addresses, the content BuildKit writes.
func hostsFile(hostname string) []byte {
	return fmt.Appendf(nil, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname)
}
