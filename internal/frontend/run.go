package frontend

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/whittle-build/whittle/internal/plan"
)

// heredocDir is where BuildKit mounts the file of a RUN <<EOF whose body
// starts with "#!": the command runs that file.
const heredocDir = "/dev/pipes/"

// dispatchRun lowers RUN: its command line, environment, mounts, network and
// security mode.
func (l *lowering) dispatchRun(s *stage, c *instructions.RunCommand, cmd command) error {
	st := &s.state
	if len(instructions.GetDevices(c)) > 0 {
		return errors.New("RUN --device is not supported by whittle")
	}
	args, heredocs, err := runArgs(c)
	if err != nil {
		return err
	}
	if c.PrependShell {
		args = withShell(st.config, args)
	}
	if len(args) == 0 {
		return errors.New("arguments are required")
	}
	network := instructions.GetNetwork(c)
	switch network {
	case instructions.NetworkDefault, instructions.NetworkNone, instructions.NetworkHost:
	default:
		return fmt.Errorf("unsupported network mode %q", network)
	}
	security := instructions.GetSecurity(c)
	switch security {
	case instructions.SecuritySandbox, instructions.SecurityInsecure:
	default:
		return fmt.Errorf("unsupported security mode %q", security)
	}
	mounts, err := l.runMounts(s, c, cmd)
	if err != nil {
		return err
	}
	env := st.env.slice()
	for _, m := range mounts {
		if m.Type == plan.MountSSH {
			if _, ok := st.env.Get("SSH_AUTH_SOCK"); !ok {
				env = append(env, "SSH_AUTH_SOCK="+m.Target)
			}
			break
		}
	}

	createdBy := "RUN " + runCommandString(args, st.buildArgs, st.env) + " # buildkit"
	op := l.op(s, cmd, plan.KindRun, createdBy)
	op.Instruction = l.runDisplay(op.Instruction, c, st.env, mounts)
	op.Run = &plan.Run{
		Args:     args,
		Env:      env,
		ProxyEnv: l.proxyEnv,
		User:     st.user,
		Cwd:      st.dir,
		Network:  network,
		Mounts:   mounts,
		Security: security,
		Heredocs: heredocs,
	}
	return nil
}

// runDisplay is how progress names a RUN whose instruction text is text,
// as BuildKit does: the variables it can resolve put in (quotes and
// escapes kept, unknown ones left as written), the first line of a lone
// heredoc after it in parentheses, and the variables of secret env mounts
// shown as ****.
func (l *lowering) runDisplay(text string, c *instructions.RunCommand, env shell.EnvGetter, mounts []plan.Mount) string {
	if len(c.Files) > 0 && len(c.CmdLine) == 1 && parser.MustParseHeredoc(c.CmdLine[0]) != nil {
		doc := strings.TrimSpace(c.Files[0].Data)
		first, _, more := strings.Cut(strings.ReplaceAll(doc, "\r\n", "\n"), "\n")
		if more {
			first += "..."
		}
		text += " (" + first + ")"
	}
	masked := map[string]bool{}
	for _, m := range mounts {
		if m.Type == plan.MountSecret && m.Env != "" {
			masked[m.Env] = true
		}
	}
	if len(masked) > 0 {
		env = maskedEnv{env, masked}
	}
	lex := *l.lex
	lex.RawQuotes, lex.RawEscapes, lex.SkipUnsetEnv = true, true, true
	if w, _, err := lex.ProcessWord(text, env); err == nil {
		text = w
	}
	return text
}

// maskedEnv shows the variables in masked as ****.
type maskedEnv struct {
	shell.EnvGetter
	masked map[string]bool
}

func (e maskedEnv) Get(key string) (string, bool) {
	if e.masked[key] {
		return "****", true
	}
	return e.EnvGetter.Get(key)
}

func (e maskedEnv) Keys() []string {
	keys := e.EnvGetter.Keys()
	for k := range e.masked {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// runArgs returns RUN's command line before the shell is prepended, and the
// heredoc files the command needs. A single heredoc is run as the shell
// command itself, or when its body starts with "#!" as a file mounted under
// /dev/pipes/; several heredocs, or a command around one, are handed back to
// the shell as a heredoc script.
func runArgs(c *instructions.RunCommand) ([]string, []plan.Heredoc, error) {
	args := append([]string(nil), c.CmdLine...)
	if len(c.Files) == 0 {
		return args, nil, nil
	}
	if len(args) != 1 || !c.PrependShell {
		return nil, nil, fmt.Errorf("parsing produced an invalid run command: %v", args)
	}
	if hd := parser.MustParseHeredoc(args[0]); hd != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			doc := plan.Heredoc{Name: f.Name, Content: data, Chomp: f.Chomp, FileDescriptor: int(hd.FileDescriptor)}
			return []string{path.Join(heredocDir, f.Name)}, []plan.Heredoc{doc}, nil
		}
		return []string{data}, nil, nil
	}
	var b strings.Builder
	b.WriteString(args[0])
	for _, f := range c.Files {
		b.WriteByte('\n')
		b.WriteString(f.Data)
		b.WriteString(f.Name)
	}
	return []string{b.String()}, nil, nil
}

// runCommandString is the history line of a RUN after "RUN ": the build args
// in scope as "|N K=V ..." (each once, first place, last value), then the
// command line.
func runCommandString(args []string, buildArgs []instructions.KeyValuePairOptional, env shell.EnvGetter) string {
	var kvs []string
	index := map[string]int{}
	for _, a := range buildArgs {
		v, ok := env.Get(a.Key)
		if !ok {
			v = a.ValueString()
		}
		if i, ok := index[a.Key]; ok {
			kvs[i] = a.Key + "=" + v
			continue
		}
		index[a.Key] = len(kvs)
		kvs = append(kvs, a.Key+"="+v)
	}
	if len(kvs) > 0 {
		kvs = append([]string{fmt.Sprintf("|%d", len(kvs))}, kvs...)
	}
	return strings.Join(append(kvs, args...), " ")
}
