// Package step carries out one filesystem-changing instruction of a plan
// against a mounted root filesystem: COPY and ADD (Copy), RUN (Run, through
// a Sandbox) and the directory WORKDIR implies (Mkdir). It knows nothing of
// scheduling, caching or layers: the solver prepares the root filesystem and
// turns what changed into a layer.
package step
