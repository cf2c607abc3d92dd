package frontend

import (
	"maps"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// defaultArgs are the automatic platform arguments BuildKit defines in the
// global scope; a --build-arg of the same name overrides each. Stages see
// them only after declaring them with ARG.
func defaultArgs(p buildPlatforms, overrides map[string]string, target string) *envList {
	bp, tp := p.build, p.target
	if target == "" {
		target = "default"
	}
	kvs := [...][2]string{
		{"BUILDPLATFORM", platforms.Format(bp)},
		{"BUILDOS", bp.OS},
		{"BUILDOSVERSION", bp.OSVersion},
		{"BUILDARCH", bp.Architecture},
		{"BUILDVARIANT", bp.Variant},
		{"TARGETPLATFORM", platforms.FormatAll(tp)},
		{"TARGETOS", tp.OS},
		{"TARGETOSVERSION", tp.OSVersion},
		{"TARGETARCH", tp.Architecture},
		{"TARGETVARIANT", tp.Variant},
		{"TARGETSTAGE", target},
	}
	env := &envList{}
	for _, kv := range kvs {
		v := kv[1]
		if ov, ok := overrides[kv[0]]; ok {
			v = ov
		}
		env = env.set(kv[0], v)
	}
	return env
}

// buildMetaArgs evaluates the ARGs before the first FROM: a --build-arg wins,
// else the default expanded with the arguments before it. An ARG without
// either stays undefined. It returns the global scope and the declared names.
func buildMetaArgs(args *envList, lex *shell.Lex, cmds []instructions.ArgCommand, buildArgs map[string]string) (*envList, map[string]struct{}, error) {
	declared := map[string]struct{}{}
	for _, cmd := range cmds {
		for _, kv := range cmd.Args {
			declared[kv.Key] = struct{}{}
			var value *string
			if v, ok := buildArgs[kv.Key]; ok {
				value = &v
			} else if kv.Value != nil {
				res, err := lex.ProcessWordWithMatches(*kv.Value, args)
				if err != nil {
					return nil, nil, parser.WithLocation(err, cmd.Location())
				}
				value = &res.Result
			}
			if value != nil {
				args = args.set(kv.Key, *value)
			}
		}
	}
	return args, declared, nil
}

// proxyEnv is the proxy environment BuildKit gives every RUN from the proxy
// build args, which need no ARG: both spellings of each variable, in
// BuildKit's order.
func proxyEnv(buildArgs map[string]string) []string {
	var http, https, ftp, no, all string
	for _, k := range slices.Sorted(maps.Keys(buildArgs)) {
		v := buildArgs[k]
		switch strings.ToLower(k) {
		case "http_proxy":
			http = v
		case "https_proxy":
			https = v
		case "ftp_proxy":
			ftp = v
		case "no_proxy":
			no = v
		case "all_proxy":
			all = v
		}
	}
	var out []string
	for _, p := range [...][2]string{{"HTTP_PROXY", http}, {"HTTPS_PROXY", https}, {"FTP_PROXY", ftp}, {"NO_PROXY", no}, {"ALL_PROXY", all}} {
		if p[1] != "" {
			out = append(out, p[0]+"="+p[1], strings.ToLower(p[0])+"="+p[1])
		}
	}
	return out
}

// predefinedArg reports whether a build arg is used without an ARG: the
// proxy variables, the platform arguments and BuildKit's own settings.
func predefinedArg(k string) bool {
	switch strings.ToLower(k) {
	case "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy":
		return true
	}
	switch k {
	case "BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
		"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE",
		"SOURCE_DATE_EPOCH":
		return true
	}
	return strings.HasPrefix(k, "BUILDKIT_")
}
