// Package docs holds glassbox's documentation; the stage pages are embedded
// in the binary for `glassbox explain`.
package docs

import "embed"

// Daemon is docs/daemon.md: dockerd's parts and glassbox's daemon (glassbox
// explain daemon).
//
//go:embed daemon.md
var Daemon []byte

// Stages are docs/stages/*.md: a page per stage, and one on hooks and
// breakpoints.
//
//go:embed stages/*.md
var Stages embed.FS

// Labs are docs/labs/*.md: the workshop's labs (glassbox lab show N).
//
//go:embed labs/*.md
var Labs embed.FS
