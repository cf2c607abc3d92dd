package frontend

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// envList is an ordered environment with the semantics of BuildKit's
// llb.EnvList: setting a key again moves it to the end. It is a value: set
// returns a new list and never changes the receiver, so a stage can hand its
// environment to the stages built on it.
type envList struct {
	keys []string
	vals map[string]string
}

var _ shell.EnvGetter = (*envList)(nil)

// Get returns the value of key.
func (e *envList) Get(key string) (string, bool) {
	if e == nil {
		return "", false
	}
	v, ok := e.vals[key]
	return v, ok
}

// Keys returns the keys in order.
func (e *envList) Keys() []string {
	if e == nil {
		return nil
	}
	return append([]string(nil), e.keys...)
}

// set returns a copy of e with key set to value, key last.
func (e *envList) set(key, value string) *envList {
	n := &envList{vals: make(map[string]string, len(e.Keys())+1)}
	for _, k := range e.Keys() {
		if k != key {
			n.keys = append(n.keys, k)
			n.vals[k] = e.vals[k]
		}
	}
	n.keys = append(n.keys, key)
	n.vals[key] = value
	return n
}

// slice returns the list as KEY=VALUE entries.
func (e *envList) slice() []string {
	out := make([]string, 0, len(e.Keys()))
	for _, k := range e.Keys() {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// addEnv sets key in an image config's Env in place (the position of an
// existing key is kept), as BuildKit does for ENV.
func addEnv(env []string, key, value string) []string {
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if shell.EqualEnvKeys(k, key) {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}
