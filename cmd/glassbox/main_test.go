package main

import (
	"slices"
	"testing"
)

// Each entry of the command table builds the command its key names, so that
// a command line naming it gets the same command alone as within the tree.
func TestSubcommandsBuildWhatTheyAreNamed(t *testing.T) {
	for name, build := range subcommands {
		if got := build().Name(); got != name {
			t.Errorf("subcommands[%q] builds %q", name, got)
		}
	}
	for _, args := range [][]string{{"run", "--rm"}, {"--root", "/x", "run"}, {"--root=/x", "run"}} {
		if cmds := newRootCmd(args).Commands(); len(cmds) != 1 || cmds[0].Name() != "run" {
			t.Errorf("glassbox %q: the tree holds %d commands, want run alone", args, len(cmds))
		}
	}
	for _, args := range [][]string{nil, {"help", "run"}, {"--root", "/x"}, {"--root", "/x", "--help"}, {"rnu"}} {
		var names []string
		for _, c := range newRootCmd(args).Commands() {
			names = append(names, c.Name())
		}
		if len(names) != len(subcommands) || !slices.Contains(names, "run") || !slices.Contains(names, "system") {
			t.Errorf("glassbox %q: the tree holds %v, want every command", args, names)
		}
	}
}
