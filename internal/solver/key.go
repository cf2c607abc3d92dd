package solver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/plan"
)

// keyVersion changes whenever the meaning of a cache record changes, so
// that old records are never misread. v2: keys leave out the image config
// and the history text (a record's config is that of the build that made
// it, and only its layers and time are reused).
const keyVersion = "whittle-cache-v2"

// hasher builds a cache key from labelled parts.
type hasher struct{ h io.Writer }

func newKey(kind string) (*hasher, func() v1.Hash) {
	h := sha256.New()
	k := &hasher{h: h}
	k.add("version", keyVersion)
	k.add("kind", kind)
	return k, func() v1.Hash {
		return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	}
}

func (k *hasher) add(label string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Plan values are plain data: marshalling cannot fail.
		b = []byte(fmt.Sprintf("%#v", v))
	}
	fmt.Fprintf(k.h, "%s %d %s\n", label, len(b), b)
}

// rootKey is the key of a stage's starting point.
func rootKey(base string, digest v1.Hash, platform string, epoch *time.Time) v1.Hash {
	k, sum := newKey("root")
	k.add("base", base)
	k.add("digest", digest)
	k.add("platform", platform)
	if epoch != nil {
		k.add("epoch", epoch.Unix())
	}
	return sum()
}

// opKey is the key of op applied on the state with key parent; inputs are
// digests of what the op reads besides its parent (context files, other
// stages, mounts). It holds what decides the filesystem op makes: the
// op's fields as expanded (RUN's command, environment, user and working
// directory, COPY's sources and destination, ...), not the image config
// nor the history text, which the result does not depend on. Config-only
// instructions (LABEL, EXPOSE, CMD, ...) therefore leave the keys of later
// steps alone, as in BuildKit, whose LLB has neither; one that changes
// what a step sees (ENV, USER, WORKDIR, SHELL, ARG) changes that step's
// fields, so its key.
func opKey(parent v1.Hash, op *plan.Op, inputs []string) v1.Hash {
	k, sum := newKey(string(op.Kind))
	k.add("parent", parent)
	switch {
	case op.Run != nil:
		r := *op.Run
		// Mount sources are identified by the inputs, not by pointers.
		mounts := make([]plan.Mount, len(r.Mounts))
		for i, m := range r.Mounts {
			m.From = plan.Source{Kind: m.From.Kind, Context: m.From.Context}
			mounts[i] = m
		}
		r.Mounts = mounts
		r.ProxyEnv = nil // as BuildKit: not part of the key
		k.add("run", r)
	case op.Copy != nil:
		c := *op.Copy
		c.From = plan.Source{Kind: c.From.Kind, Context: c.From.Context}
		k.add("copy", c)
	case op.Mkdir != nil:
		k.add("mkdir", op.Mkdir)
	}
	k.add("inputs", inputs)
	return sum()
}
