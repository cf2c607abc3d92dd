package analyze

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/user"
)

// Attack-surface rule names: stable, used in Finding.Rule and Options.Forbid.
const (
	RuleShell          = "shell"
	RulePackageManager = "package-manager"
	RuleInterpreter    = "interpreter"
	RuleCompiler       = "compiler"
	RuleSetuid         = "setuid"
	RuleWorldWritable  = "world-writable"
	RulePrivateKey     = "private-key"
	RuleRoot           = "root"
	RuleUser           = "user-unresolvable"
	RuleExposedPort    = "exposed-port"
)

// Severities, most severe first.
const (
	SeverityHigh   = "high"
	SeverityMedium = "medium"
	SeverityLow    = "low"
	SeverityInfo   = "info"
)

// Rule describes one attack-surface rule.
type Rule struct {
	// Name is the stable rule name.
	Name string `json:"name"`
	// Severity is the rule's usual severity; a finding may differ (a
	// named user missing from /etc/passwd is high, a bare uid low).
	Severity string `json:"severity"`
	// Description says what the rule looks for.
	Description string `json:"description"`
	// Advice says what to do about a finding.
	Advice string `json:"advice"`
}

// Rules returns every attack-surface rule, in a fixed order.
func Rules() []Rule {
	return []Rule{
		{RuleShell, SeverityMedium,
			"a shell (sh, bash, dash, ash, zsh, ksh, busybox...) on the PATH",
			"Use a distroless or scratch base, or COPY --from a build stage only what the app needs; debug with an ephemeral debug container instead of a shell in the image."},
		{RulePackageManager, SeverityMedium,
			"a package manager (apt, apt-get, dpkg, apk, yum, dnf, rpm, pip, npm...) on the PATH",
			"Install packages in a build stage and copy the results, or use a distroless base: a package manager lets an intruder install tools."},
		{RuleInterpreter, SeverityLow,
			"a language interpreter (python, perl, ruby, node, php, lua, java...) on the PATH",
			"If the application does not need it, move it to a build stage; if it does, use the matching distroless runtime base."},
		{RuleCompiler, SeverityMedium,
			"a compiler or build tool (gcc, cc, go, javac, make, ld, rustc...) on the PATH",
			"Move the compiler to a build stage and COPY --from it only the built artifacts."},
		{RuleSetuid, SeverityHigh,
			"a setuid or setgid file",
			"Remove the file or its setuid/setgid bit (chmod u-s,g-s); run the container with no-new-privileges."},
		{RuleWorldWritable, SeverityMedium,
			"a world-writable directory without the sticky bit",
			"Set the sticky bit (chmod +t) or remove world write permission (chmod o-w)."},
		{RulePrivateKey, SeverityHigh,
			"a PEM private key (\"-----BEGIN ... PRIVATE KEY-----\") in a file of at most 64 KiB",
			"Never bake keys into an image: mount them at run time (RUN --mount=type=secret, a secret volume) and rotate this one."},
		{RuleRoot, SeverityMedium,
			"the image runs as root (no USER, or USER root/0)",
			"Add USER with a numeric non-root uid (65532 is distroless's nonroot) and make only what the app writes owned by it."},
		{RuleUser, SeverityHigh,
			"the USER is not in /etc/passwd (a name: the container cannot start; a uid: no name or home)",
			"Use a user that /etc/passwd defines, or add one in the final stage (a numeric uid with an entry and a home directory)."},
		{RuleExposedPort, SeverityInfo,
			"a port declared with EXPOSE",
			"Expose only what clients need; EXPOSE documents a port, the runtime decides what is published."},
	}
}

// ValidateRules returns an error naming any entry of names that is not a
// rule name.
func ValidateRules(names []string) error {
	known := map[string]bool{}
	var list []string
	for _, r := range Rules() {
		known[r.Name] = true
		list = append(list, r.Name)
	}
	for _, n := range names {
		if !known[n] {
			return fmt.Errorf("unknown rule %q: rules are %s", n, strings.Join(list, ", "))
		}
	}
	return nil
}

// ruleByName returns the rule called name.
func ruleByName(name string) Rule {
	for _, r := range Rules() {
		if r.Name == name {
			return r
		}
	}
	return Rule{Name: name, Severity: SeverityInfo}
}

// finding makes a finding of rule with the rule's severity and advice.
func finding(rule, p, verdict string) Finding {
	r := ruleByName(rule)
	return Finding{Rule: rule, Severity: r.Severity, Path: p, Verdict: verdict, Advice: r.Advice}
}

// standardPath is searched for tools in addition to the config's PATH.
const standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// findAttackSurface applies every rule to the final filesystem and config.
func findAttackSurface(fs *filesystem, cfg *v1.ConfigFile, r *Report) []Finding {
	var out []Finding
	out = append(out, toolFindings(fs, cfg)...)
	fs.walk(func(p string, n *node) {
		switch {
		case n.kind == kindFile && n.mode&0o6000 != 0:
			bits := map[int64]string{0o4000: "setuid", 0o2000: "setgid", 0o6000: "setuid and setgid"}[n.mode&0o6000]
			out = append(out, finding(RuleSetuid, p, fmt.Sprintf("%s file (owner %d, group %d, mode %04o)", bits, n.uid, n.gid, n.mode)))
		case n.kind == kindDir && n.mode&0o002 != 0 && n.mode&0o1000 == 0:
			out = append(out, finding(RuleWorldWritable, p, fmt.Sprintf("world-writable directory without the sticky bit (mode %04o)", n.mode)))
		}
		if n.kind == kindFile && n.privateKey {
			out = append(out, finding(RulePrivateKey, p, "file holds a PEM private key"))
		}
	})
	out = append(out, userFindings(fs, cfg)...)
	for _, port := range r.ExposedPorts {
		out = append(out, finding(RuleExposedPort, "config:ExposedPorts", "exposes "+port))
	}
	return out
}

// toolFindings looks for shells, package managers, interpreters and
// compilers in the directories of the config's PATH and the standard PATH.
func toolFindings(fs *filesystem, cfg *v1.ConfigFile) []Finding {
	search := standardPath
	for _, kv := range cfg.Config.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			search = v + ":" + standardPath
		}
	}
	var out []Finding
	seenDir := map[*node]bool{}
	for _, d := range strings.Split(search, ":") {
		if !path.IsAbs(d) {
			continue
		}
		dir, err := fs.dir(path.Clean(d), false, 0)
		if err != nil || dir == nil || seenDir[dir] {
			continue
		}
		seenDir[dir] = true
		dirPath := fs.pathOf(dir)
		names := make([]string, 0, len(dir.children))
		for name := range dir.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			rule := toolRule(name)
			if rule == "" {
				continue
			}
			p := path.Join(dirPath, name)
			n := dir.children[name]
			target := fs.open(p)
			if target == nil || target.kind != kindFile || target.mode&0o111 == 0 {
				continue // a dangling link or a file nobody can run
			}
			verdict := fmt.Sprintf("%s %q is on the PATH", strings.ReplaceAll(rule, "-", " "), name)
			if n.kind == kindSymlink {
				verdict += " (→ " + n.link + ")"
			}
			out = append(out, finding(rule, p, verdict))
		}
	}
	return out
}

// Tool names by rule; versioned names (python3.11, gcc-12,
// x86_64-linux-gnu-gcc-12, pip3.11) are matched by versionedTool.
var versionedTool = regexp.MustCompile(`^(?:[a-z0-9_]+-linux-gnu[a-z]*-)?([a-z+]+?)(?:-?[0-9][0-9.]*)?$`)

// toolRule returns the rule an executable called name falls under, or "".
func toolRule(name string) string {
	if r := toolNames(name); r != "" {
		return r
	}
	if m := versionedTool.FindStringSubmatch(name); m != nil && m[1] != name {
		if r := toolNames(m[1]); r != RuleShell { // "sh-1" is no shell
			return r
		}
	}
	return ""
}

// toolNames maps unversioned tool names to their rule.
func toolNames(name string) string {
	switch name {
	case "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox", "csh", "tcsh", "fish", "rbash", "toybox":
		return RuleShell
	case "apt", "apt-get", "apt-cache", "aptitude", "dpkg", "dpkg-deb", "apk", "yum", "dnf", "microdnf", "tdnf",
		"rpm", "zypper", "pacman", "pip", "pipx", "npm", "npx", "yarn", "pnpm", "gem", "conda", "easy_install":
		return RulePackageManager
	case "python", "perl", "ruby", "node", "nodejs", "php", "lua", "luajit", "tclsh", "wish", "deno", "bun",
		"java", "Rscript", "pwsh", "jshell", "irb":
		return RuleInterpreter
	case "gcc", "g++", "cc", "c++", "cpp", "clang", "clang++", "go", "gccgo", "javac", "make", "gmake", "cmake",
		"ninja", "ld", "ld.bfd", "ld.gold", "as", "rustc", "cargo", "gfortran", "tcc", "mvn", "gradle", "ant", "bazel":
		return RuleCompiler
	}
	return ""
}

// userFindings checks the user the image runs as against /etc/passwd.
func userFindings(fs *filesystem, cfg *v1.ConfigFile) []Finding {
	spec := cfg.Config.User
	name, _, _ := strings.Cut(spec, ":")
	var users []user.User
	var passwdErr error
	if n := fs.open("/etc/passwd"); n != nil && n.content != nil {
		users, passwdErr = user.ParsePasswd(bytes.NewReader(n.content))
	}
	const where = "config:User"
	switch {
	case name == "" || name == "root" || name == "0":
		why := "no USER is set: the container runs as root"
		if name != "" {
			why = fmt.Sprintf("USER %q is root", spec)
		}
		return []Finding{finding(RuleRoot, where, why)}
	case passwdErr != nil:
		f := finding(RuleUser, where, fmt.Sprintf("/etc/passwd cannot be read (%v), so USER %q cannot be checked", passwdErr, spec))
		f.Severity = SeverityLow
		return []Finding{f}
	}
	uid, numErr := strconv.Atoi(name)
	for _, u := range users {
		if (numErr == nil && u.Uid == uid) || (numErr != nil && u.Name == name) {
			if u.Uid == 0 {
				return []Finding{finding(RuleRoot, where, fmt.Sprintf("USER %q is uid 0: the container runs as root", spec))}
			}
			return nil
		}
	}
	if numErr == nil {
		f := finding(RuleUser, where, fmt.Sprintf("uid %d has no /etc/passwd entry: no name or home directory; some programs refuse to run", uid))
		f.Severity = SeverityLow
		return []Finding{f}
	}
	return []Finding{finding(RuleUser, where, fmt.Sprintf("user %q is not in /etc/passwd: the container will not start", name))}
}

// severityRank orders severities, most severe first.
func severityRank(s string) int {
	switch s {
	case SeverityHigh:
		return 0
	case SeverityMedium:
		return 1
	case SeverityLow:
		return 2
	}
	return 3
}

// sortFindings orders findings by severity, rule, then path.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if severityRank(a.Severity) != severityRank(b.Severity) {
			return severityRank(a.Severity) < severityRank(b.Severity)
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Path < b.Path
	})
}
