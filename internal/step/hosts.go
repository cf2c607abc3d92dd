package step

import (
	"fmt"
	"net/netip"
	"strings"
)

// Host is a name RUN's /etc/hosts maps to an address (`--add-host`).
type Host struct {
	Name string
	IP   netip.Addr
}

// HostGateway is the address `--add-host NAME:host-gateway` gives: the host
// itself, which a RUN on the host's network reaches at the loopback address.
var HostGateway = netip.MustParseAddr("127.0.0.1")

// ParseHost reads an `--add-host` value as docker does: NAME:IP or NAME=IP
// (an IPv6 address after the first colon, or in brackets), or
// NAME:host-gateway.
func ParseHost(s string) (Host, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" || strings.ContainsAny(name, ": \t\n") {
		return Host{}, fmt.Errorf("--add-host %q: want NAME:IP (or NAME=IP)", s)
	}
	if ip == "host-gateway" {
		return Host{Name: name, IP: HostGateway}, nil
	}
	if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		ip = ip[1 : len(ip)-1]
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" {
		return Host{}, fmt.Errorf("--add-host %q: %q is not an IP address", s, ip)
	}
	return Host{Name: name, IP: addr}, nil
}

// Line is h as a line of /etc/hosts.
func (h Host) Line() string { return h.IP.String() + "\t" + h.Name }

// HostLines are hosts as lines of /etc/hosts, in order.
func HostLines(hosts []Host) []string {
	lines := make([]string, len(hosts))
	for i, h := range hosts {
		lines[i] = h.Line()
	}
	return lines
}
