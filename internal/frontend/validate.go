package frontend

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file holds BuildKit's build checks that need the converter's state;
// the linter package defines the rules and their messages.

var reservedStageNames = map[string]bool{"context": true, "scratch": true}

// validateStageNames reports reserved and duplicate stage names.
func validateStageNames(stages []instructions.Stage, lint *linter.Linter) {
	seen := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" {
			continue
		}
		if reservedStageNames[st.Name] {
			lint.Run(&linter.RuleReservedStageName, st.Location, linter.RuleReservedStageName.Format(st.Name))
		}
		if seen[st.Name] {
			lint.Run(&linter.RuleDuplicateStageName, st.Location, linter.RuleDuplicateStageName.Format(st.Name))
		}
		seen[st.Name] = true
	}
}

func selfConsistentCasing(s string) bool { return s == strings.ToLower(s) || s == strings.ToUpper(s) }

// validateCommandCasing reports instructions whose casing differs from the
// majority of the file's.
func validateCommandCasing(stages []instructions.Stage, lint *linter.Linter) {
	var lower, upper int
	count := func(name string) {
		if selfConsistentCasing(name) {
			if strings.ToLower(name) == name {
				lower++
			} else {
				upper++
			}
		}
	}
	for _, st := range stages {
		count(st.OrigCmd)
		for _, c := range st.Commands {
			count(c.Name())
		}
	}
	majorityLower := lower > upper
	check := func(name string, loc []parser.Range) {
		var want string
		if majorityLower && strings.ToLower(name) != name {
			want = "lowercase"
		} else if !majorityLower && strings.ToUpper(name) != name {
			want = "uppercase"
		}
		if want != "" {
			lint.Run(&linter.RuleConsistentInstructionCasing, loc, linter.RuleConsistentInstructionCasing.Format(name, want))
		}
	}
	for _, st := range stages {
		check(st.OrigCmd, st.Location)
		for _, c := range st.Commands {
			check(c.Name(), c.Location())
		}
	}
}

// fromArgKeys are the names FROM lines may use: the global ARGs and the
// automatic platform arguments.
func (l *lowering) fromArgKeys() map[string]struct{} {
	keys := map[string]struct{}{}
	for k := range l.metaArgs {
		keys[k] = struct{}{}
	}
	for _, k := range l.global.Keys() {
		keys[k] = struct{}{}
	}
	return keys
}

// reportUnusedFromArgs reports variables in a FROM line that no global ARG
// declares.
func reportUnusedFromArgs(known map[string]struct{}, unmatched map[string]struct{}, loc []parser.Range, lint *linter.Linter) {
	var keys []string
	for k := range known {
		keys = append(keys, k)
	}
	for _, arg := range sortedKeys(unmatched) {
		if _, ok := known[arg]; ok {
			continue
		}
		match, _ := suggest.Search(arg, keys, true)
		lint.Run(&linter.RuleUndefinedArgInFrom, loc, linter.RuleUndefinedArgInFrom.Format(arg, match))
	}
}

// reportRedundantTargetPlatform reports FROM --platform=$TARGETPLATFORM.
func reportRedundantTargetPlatform(expr string, res shell.ProcessWordResult, loc []parser.Range, env shell.EnvGetter, lint *linter.Linter) {
	if len(res.Matched) != 1 || len(res.Unmatched) != 0 {
		return
	}
	if _, ok := res.Matched["TARGETPLATFORM"]; !ok {
		return
	}
	if v, _ := env.Get("TARGETPLATFORM"); res.Result == v {
		lint.Run(&linter.RuleRedundantTargetPlatform, loc, linter.RuleRedundantTargetPlatform.Format(expr))
	}
}

// reportConstPlatformDisallowed reports a constant FROM --platform unless
// the stage's name mentions the platform.
func reportConstPlatformDisallowed(stageName string, res shell.ProcessWordResult, loc []parser.Range, lint *linter.Linter) {
	if len(res.Matched) > 0 || len(res.Unmatched) > 0 {
		return
	}
	p, err := platforms.Parse(res.Result)
	if err != nil {
		return
	}
	if strings.Contains(stageName, p.OS) || strings.Contains(stageName, p.Architecture) {
		return
	}
	lint.Run(&linter.RuleFromPlatformFlagConstDisallowed, loc, linter.RuleFromPlatformFlagConstDisallowed.Format(res.Result))
}

// wrapSuggestAny adds a "did you mean" for the first unmatched name close to
// a known one.
func wrapSuggestAny(err error, unmatched map[string]struct{}, options []string) error {
	for _, k := range sortedKeys(unmatched) {
		var ok bool
		if ok, err = suggest.WrapErrorMaybe(err, k, options, true); ok {
			break
		}
	}
	return err
}

// validateBaseImagesWithDefaultArgs reports FROM lines that are not valid
// references when no --build-arg is given.
func validateBaseImagesWithDefaultArgs(stages []instructions.Stage, lex *shell.Lex, env *envList, cmds []instructions.ArgCommand, lint *linter.Linter) {
	args, _, err := buildMetaArgs(env, lex, cmds, nil)
	if err != nil {
		return
	}
	for _, st := range stages {
		res, err := lex.ProcessWordWithMatches(st.BaseName, args)
		if err != nil {
			return
		}
		if _, err := reference.ParseNormalizedNamed(res.Result); err != nil {
			lint.Run(&linter.RuleInvalidDefaultArgInFrom, st.Location, linter.RuleInvalidDefaultArgInFrom.Format(st.BaseName))
		}
	}
}

// validateBaseImagePlatform reports a base image built for another platform.
func validateBaseImagePlatform(name string, want, got ocispecs.Platform, loc []parser.Range, lint *linter.Linter) {
	if want.OS == got.OS && want.Architecture == got.Architecture {
		return
	}
	msg := linter.RuleInvalidBaseImagePlatform.Format(name, platforms.FormatAll(platforms.Normalize(want)), platforms.FormatAll(platforms.Normalize(got)))
	lint.Run(&linter.RuleInvalidBaseImagePlatform, loc, msg)
}

// usedOnce tracks CMD, ENTRYPOINT and HEALTHCHECK, which only count once per
// stage.
type usedOnce struct {
	loc []parser.Range
	set bool
}

// mark reports the previous use of an instruction that is used again.
func (u *usedOnce) mark(c instructions.Command, lint *linter.Linter) {
	if u.set {
		lint.Run(&linter.RuleMultipleInstructionsDisallowed, u.loc, linter.RuleMultipleInstructionsDisallowed.Format(c.Name()))
	}
	u.loc, u.set = c.Location(), true
}

var (
	secretWords  = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	allowedWords = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
)

// validateNoSecretKey reports ARG and ENV names that look like secrets.
func validateNoSecretKey(instruction, key string, loc []parser.Range, lint *linter.Linter) {
	if secretWords.MatchString(key) && !allowedWords.MatchString(key) {
		lint.Run(&linter.RuleSecretsUsedInArgOrEnv, loc, linter.RuleSecretsUsedInArgOrEnv.Format(instruction, key))
	}
}

// reportUnmatchedVariables reports variables an instruction uses that are
// neither in the environment nor declared ARGs.
func reportUnmatchedVariables(cmd instructions.Command, buildArgs []instructions.KeyValuePairOptional, env shell.EnvGetter, unmatched map[string]struct{}, lint *linter.Linter) {
	if len(unmatched) == 0 {
		return
	}
	for _, a := range buildArgs {
		delete(unmatched, a.Key)
	}
	options := env.Keys()
	for _, v := range sortedKeys(unmatched) {
		if v == "BUILDKIT_SBOM_SCAN_CONTEXT" || v == "BUILDKIT_SBOM_SCAN_STAGE" {
			continue
		}
		match, _ := suggest.Search(v, options, true)
		lint.Run(&linter.RuleUndefinedVar, cmd.Location(), linter.RuleUndefinedVar.Format(v, match))
	}
}

// sortedKeys returns a set's members in order, so warnings come out the same
// way every time.
func sortedKeys(m map[string]struct{}) []string {
	return slices.Sorted(maps.Keys(m))
}
