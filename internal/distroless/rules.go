package distroless

import (
	"path"
)

// Packages whose maintainer scripts' effect is replayed: their files are
// inputs of generated ones and do not ship (but for their copyright).
const (
	// pkgCACerts provides the certificates of the CA bundle
	// (update-ca-certificates is replayed, see cacerts.go).
	pkgCACerts = "ca-certificates"
	// pkgJavaCACerts makes the Java trust store from the bundle (replayed,
	// see javacerts.go).
	pkgJavaCACerts = "ca-certificates-java"
	// pkgBusybox is the busybox of --debug images, moved to /busybox.
	pkgBusybox = "busybox-static"
)

// busyboxDir is where --debug images keep busybox and its applet links.
const busyboxDir = "busybox"

// busyboxApplets are the applets linked in /busybox: the everyday tools of
// a debugging shell, all present in Debian's busybox-static since bullseye.
var busyboxApplets = []string{
	"[", "[[", "ash", "awk", "basename", "cat", "chgrp", "chmod", "chown", "cmp",
	"cp", "cut", "date", "dd", "df", "diff", "dirname", "du", "echo", "egrep", "env",
	"expr", "false", "find", "free", "getopt", "grep", "groups", "gunzip", "gzip", "head",
	"hexdump", "hostname", "id", "ip", "kill", "less", "ln", "ls", "md5sum", "mkdir", "mkfifo",
	"mktemp", "more", "mv", "nc", "netstat", "nproc", "nslookup", "od", "ping", "printf", "ps",
	"pwd", "readlink", "realpath", "rm", "rmdir", "sed", "seq", "sh", "sha1sum", "sha256sum",
	"sha512sum", "sleep", "sort", "stat", "strings", "sync", "tail", "tar", "tee", "test",
	"timeout", "top", "touch", "tr", "true", "truncate", "uname", "uniq", "vi", "wc", "wget",
	"which", "whoami", "xargs", "yes", "zcat",
}

// rulesFor returns how package pkg ships in an image of recipe r.
func rulesFor(pkg string, r *Recipe, merge *usrMerge) shipRules {
	rules := shipRules{merge: merge, capture: captureDefault, md5sums: true}
	copyright := isDocCopyright(pkg)
	switch pkg {
	case pkgCACerts, pkgJavaCACerts:
		rules.keep, rules.md5sums = copyright, false
		return rules
	case pkgBusybox:
		rules.keep = func(p string) bool { return p == "bin/busybox" || copyright(p) }
		rules.move = func(p string) string {
			if p == "bin/busybox" {
				return path.Join(busyboxDir, "busybox")
			}
			return p
		}
		rules.links = map[string]string{}
		for _, a := range busyboxApplets {
			rules.links[path.Join(busyboxDir, a)] = "busybox"
		}
		rules.md5sums = false
		return rules
	}
	if only, ok := r.Only[pkg]; ok {
		keep := prefixKeep(only)
		rules.keep = func(p string) bool { return keep(p) || copyright(p) }
		rules.md5sums = false
	}
	return rules
}
