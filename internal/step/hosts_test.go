package step

import (
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	for in, want := range map[string]string{
		"db:10.0.0.7":                       "10.0.0.7\tdb",
		"db=10.0.0.7":                       "10.0.0.7\tdb",
		"six:2001:db8::1":                   "2001:db8::1\tsix",
		"six=[2001:db8::1]":                 "2001:db8::1\tsix",
		"br:[10.0.0.8]":                     "10.0.0.8\tbr",
		"host.docker.internal:host-gateway": "127.0.0.1\thost.docker.internal",
	} {
		h, err := ParseHost(in)
		if err != nil {
			t.Errorf("ParseHost(%q): %v", in, err)
			continue
		}
		if got := h.Line(); got != want {
			t.Errorf("ParseHost(%q).Line() = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"nohost":            "want NAME:IP",
		":10.0.0.7":         "want NAME:IP",
		"=10.0.0.7":         "want NAME:IP",
		"a b:10.0.0.7":      "want NAME:IP",
		"db:":               "is not an IP address",
		"db:10.0.0.300":     "is not an IP address",
		"db:example.com":    "is not an IP address",
		"db=fe80::1%eth0":   "is not an IP address",
		"db:[host-gateway]": "is not an IP address",
	} {
		_, err := ParseHost(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseHost(%q) = %v, want an error naming it and saying %q", in, err, want)
		}
	}
}
