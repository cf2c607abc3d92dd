package frontend

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/whittle-build/whittle/internal/plan"
)

// dispatchExpose adds EXPOSE ports ("80" is "80/tcp"; ranges expand).
func (l *lowering) dispatchExpose(s *stage, c *instructions.ExposeCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	var raw []string
	for _, p := range c.Ports {
		words, err := l.lex.ProcessWords(p, st.env)
		if err != nil {
			return err
		}
		raw = append(raw, words...)
	}
	var ports []string
	for _, p := range raw {
		pp, err := parsePort(p, c.Location(), lint)
		if err != nil {
			return err
		}
		ports = append(ports, pp...)
	}
	exposed := maps.Clone(st.config.ExposedPorts)
	if exposed == nil {
		exposed = map[string]struct{}{}
	}
	for _, p := range ports {
		exposed[p] = struct{}{}
	}
	st.config.ExposedPorts = exposed
	l.op(s, cmd, plan.KindConfig, fmt.Sprintf("EXPOSE %v", ports))
	return nil
}

// parsePort reads [ip:][hostPort:]port[-end][/proto] into "port/proto"
// entries. Host parts are accepted (with a warning), as BuildKit does.
func parsePort(rawPort string, loc []parser.Range, lint *linter.Linter) ([]string, error) {
	ip, hostPort, containerPort := splitPortParts(rawPort)
	proto, containerPort, err := splitProtoPort(containerPort)
	if err != nil {
		return nil, fmt.Errorf("invalid port: %q: %w", rawPort, err)
	}
	if proto != strings.ToLower(proto) {
		lint.Run(&linter.RuleExposeProtoCasing, loc, linter.RuleExposeProtoCasing.Format(rawPort))
	}
	if ip != "" || hostPort != "" {
		lint.Run(&linter.RuleExposeInvalidFormat, loc, linter.RuleExposeInvalidFormat.Format(rawPort))
	}
	if ip != "" && ip[0] == '[' {
		rawIP, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
		ip = rawIP
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, errors.New("invalid IP address: " + ip)
	}
	start, end, err := parsePortRange(containerPort)
	if err != nil {
		return nil, errors.New("invalid containerPort: " + containerPort)
	}
	if hostPort != "" {
		hs, he, err := parsePortRange(hostPort)
		if err != nil {
			return nil, errors.New("invalid hostPort: " + hostPort)
		}
		if end-start != he-hs && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	out := make([]string, 0, end-start+1)
	for p := start; p <= end; p++ {
		out = append(out, strconv.Itoa(p)+"/"+strings.ToLower(proto))
	}
	return out, nil
}

func parsePortRange(ports string) (int, int, error) {
	if ports == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	first, last, isRange := strings.Cut(ports, "-")
	start, err := parsePortNumber(first)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid start port '%s': %w", first, err)
	}
	if !isRange || first == last {
		return start, start, nil
	}
	end, err := parsePortNumber(last)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid end port '%s': %w", last, err)
	}
	if end < start {
		return 0, 0, errors.New("invalid port range: " + ports)
	}
	return start, end, nil
}

func parsePortNumber(raw string) (int, error) {
	if raw == "" {
		return 0, errors.New("value is empty")
	}
	p, err := strconv.ParseInt(raw, 10, 0)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, err
	}
	if p < 0 || p > 65535 {
		return 0, errors.New("value out of range (0–65535)")
	}
	return int(p), nil
}

func splitProtoPort(raw string) (proto, port string, err error) {
	port, proto, _ = strings.Cut(raw, "/")
	if port == "" {
		return "", "", errors.New("no port specified")
	}
	switch strings.ToLower(proto) {
	case "":
		return "tcp", port, nil
	case "tcp", "udp", "sctp":
		return proto, port, nil
	default:
		return "", "", errors.New("invalid proto: " + proto)
	}
}

func splitPortParts(raw string) (hostIP, hostPort, containerPort string) {
	parts := strings.Split(raw, ":")
	switch n := len(parts); n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}
