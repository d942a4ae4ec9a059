// Package step is the one shape in which glassbox's parts report what they
// asked of the kernel — the stages, netns (netlink, nftables) and cgroupsv2
// (cgroupfs) alike — and which the trace turns into spans.
package step

import "time"

// Recorder hears of one step: its name as a person reads it ("mkdir
// memory:/glassbox/3f2a1b0c9d8e", "RTM_NEWLINK lo up"), when it began, its
// error, and attributes as key, value pairs.
type Recorder func(name string, start time.Time, err error, kv ...string)

// None records nothing.
func None(string, time.Time, error, ...string) {}
