package frontend

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/util/system"
	mode "github.com/tonistiigi/dchapes-mode"

	"github.com/whittle-build/whittle/internal/plan"
)

// copySpec is what COPY and ADD have in common.
type copySpec struct {
	add bool
	instructions.SourcesAndDest
	from       string
	chown      string
	chmod      string
	link       bool
	parents    bool
	exclude    []string
	checksum   string
	keepGitDir *bool
	unpack     *bool
}

func copyFromCopy(c *instructions.CopyCommand) copySpec {
	return copySpec{SourcesAndDest: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod,
		link: c.Link, parents: c.Parents, exclude: c.ExcludePatterns}
}

func copyFromAdd(c *instructions.AddCommand) copySpec {
	return copySpec{add: true, SourcesAndDest: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod,
		link: c.Link, exclude: c.ExcludePatterns, checksum: c.Checksum, keepGitDir: c.KeepGitDir, unpack: c.Unpack}
}

// dispatchCopy lowers COPY and ADD: the destination is resolved against the
// working directory (a trailing "/" kept), options are validated as BuildKit
// validates them, and the history line is BuildKit's.
func (l *lowering) dispatchCopy(s *stage, c copySpec, cmd command, lint *linter.Linter) error {
	st := &s.state
	dest, err := destPath(st.dir, c.DestPath)
	if err != nil {
		return err
	}
	if c.chown != "" && c.link && chownByName(c.chown) {
		return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", c.chown)
	}
	if err := validChmod(c.chmod); err != nil {
		return err
	}
	if err := c.validSources(); err != nil {
		return err
	}

	from := plan.Source{Kind: plan.SourceContext}
	if len(cmd.sources) > 0 && cmd.sources[0] != nil {
		src := cmd.sources[0]
		if !src.source && !src.dispatched {
			name := s.display
			return fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", c.from, name)
		}
		from = l.sourceOf(src)
	}

	msg := "COPY"
	if c.add {
		msg = "ADD"
	}
	if c.parents {
		msg += " --parents"
	}
	if c.chown != "" {
		msg += " --chown=" + c.chown
	}
	if c.chmod != "" {
		msg += " --chmod=" + c.chmod
	}
	for _, src := range c.SourcePaths {
		msg += " " + src
	}
	var docs []plan.Heredoc
	for _, sc := range c.SourceContents {
		msg += " <<" + sc.Path
		docs = append(docs, plan.Heredoc{Name: sc.Path, Content: sc.Data})
	}
	msg += " " + c.DestPath + " # buildkit"

	op := l.op(s, cmd, plan.KindCopy, msg)
	cp := &plan.Copy{
		Add:      c.add,
		From:     from,
		Sources:  append([]string(nil), c.SourcePaths...),
		Heredocs: docs,
		Dest:     dest,
		Chown:    c.chown,
		Chmod:    c.chmod,
		Link:     c.link,
		Parents:  c.parents,
		Exclude:  append([]string(nil), c.exclude...),
		Checksum: c.checksum,
		Unpack:   c.unpack,
		User:     st.user,
		Cwd:      st.dir,
	}
	if c.keepGitDir != nil {
		cp.KeepGitDir = *c.keepGitDir
	}
	op.Copy = cp
	return nil
}

// validSources applies BuildKit's rules on URL and Git sources and on
// --checksum.
func (c copySpec) validSources() error {
	for _, src := range c.SourcePaths {
		ref, isGit, err := dfgitutil.ParseGitRef(src)
		if err != nil && isGit {
			return err
		}
		switch {
		case err == nil && !ref.IndistinguishableFromLocal:
			if !c.add {
				return errors.New("source can't be a git ref for COPY")
			}
			if c.keepGitDir != nil && ref.KeepGitDir != nil && *c.keepGitDir != *ref.KeepGitDir {
				return errors.New("inconsistent keep-git-dir configuration")
			}
			if c.checksum != "" && ref.Checksum != "" && c.checksum != ref.Checksum {
				return fmt.Errorf("checksum mismatch %q != %q", c.checksum, ref.Checksum)
			}
		case isHTTPSource(src):
			if !c.add {
				return errors.New("source can't be a URL for COPY")
			}
		}
	}
	if c.checksum == "" {
		return nil
	}
	if !c.add {
		return errors.New("checksum can't be specified for COPY")
	}
	if len(c.SourcePaths) != 1 {
		return errors.New("checksum can't be specified for multiple sources")
	}
	if src := c.SourcePaths[0]; !isHTTPSource(src) && !isGitSource(src) {
		return errors.New("checksum requires HTTP(S) or Git sources")
	}
	return nil
}

// destPath resolves a COPY destination against the working directory,
// keeping a trailing "/" (and turning "" and "." into the directory itself).
func destPath(dir, p string) (string, error) {
	if system.IsAbs(p, "linux") {
		return system.NormalizePath("/", p, "linux", true)
	}
	if p == "." || p == "" {
		p = "./"
	}
	return system.NormalizePath(dir, p, "linux", true)
}

// validChmod accepts an octal mode up to 07777 or a symbolic one ("u+x").
func validChmod(chmod string) error {
	if chmod == "" {
		return nil
	}
	nonOctal := fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", chmod)
	if p, err := strconv.ParseUint(chmod, 8, 32); err == nil {
		if p > 0o7777 {
			return nonOctal
		}
		return nil
	}
	if _, err := mode.Parse(chmod); err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			return nonOctal
		}
		return err
	}
	return nil
}

// chownByName reports whether --chown names a user or group rather than
// numbers ("root" counts as 0), which --link cannot resolve.
func chownByName(chown string) bool {
	user, group, _ := strings.Cut(chown, ":")
	byName := func(v string) bool {
		if v == "" || v == "root" {
			return false
		}
		_, err := strconv.ParseInt(v, 10, 32)
		return err != nil
	}
	return byName(user) || byName(group)
}

func isHTTPSource(src string) bool {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return false
	}
	return !isGitSource(src)
}

func isGitSource(src string) bool {
	ref, isGit, _ := dfgitutil.ParseGitRef(src)
	return ref != nil && isGit
}

// sourceOf describes where a stage or source's files come from.
func (l *lowering) sourceOf(s *stage) plan.Source {
	switch {
	case !s.source:
		return plan.Source{Kind: plan.SourceStage, Stage: s.out}
	case s.context != "":
		return plan.Source{Kind: plan.SourceContext, Context: s.context}
	case s.image != nil:
		return plan.Source{Kind: plan.SourceImage, Image: s.image}
	default:
		return plan.Source{Kind: plan.SourceNone}
	}
}
