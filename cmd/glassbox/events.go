//go:build !lean

package main

// glassbox events: the state root's events log (engine.Events), as docker
// events prints it.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/container"
)

func newEventsCmd() *cobra.Command {
	var since, until string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [--since WHEN] [--until WHEN] [--filter KEY=VALUE]",
		Short: "Show what happens to containers, images and networks (follows without --until)",
		Long: `events prints the state root's events log: containers created, started,
killed, dead (with their exit code), stopped, destroyed; images pulled, pushed,
tagged, untagged, deleted, loaded; networks made, connected, removed. WHEN is
a time (2006-01-02T15:04:05), seconds since 1970, or a duration ago (10m).
Filters: type, event, container, image, network (each key: any of its values).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := when(since, "--since")
			if err != nil {
				return err
			}
			to, err := when(until, "--until")
			if err != nil {
				return err
			}
			want := map[string][]string{}
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || !slices.Contains([]string{"type", "event", "container", "image", "network"}, k) {
					return fmt.Errorf("--filter %q: KEY=VALUE, KEY one of type, event, container, image, network", f)
				}
				want[k] = append(want[k], v)
			}
			follow := to.IsZero() || to.After(time.Now())
			if from.IsZero() && follow {
				from = time.Now()
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			return eng.Events(cmd.Context(), from, to, follow, func(ev container.Event) error {
				has := ev.Keys()
				for k, vs := range want {
					if !slices.ContainsFunc(vs, func(v string) bool { return slices.Contains(has[k], v) }) {
						return nil
					}
				}
				var attrs []string
				for _, k := range slices.Sorted(maps.Keys(ev.Attributes)) {
					attrs = append(attrs, k+"="+ev.Attributes[k])
				}
				_, err := fmt.Printf("%s %s %s %s (%s)\n", ev.Time.Format(time.RFC3339Nano), ev.Type, ev.Action, ev.ID, strings.Join(attrs, ", "))
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "show events from this time on (default: from now)")
	f.StringVar(&until, "until", "", "stop at this time (default: follow)")
	f.StringArrayVarP(&filters, "filter", "f", nil, "KEY=VALUE: type, event, container, image, network")
	return cmd
}

// when reads a time as docker events takes one: RFC 3339 or its date and
// time alone, seconds since 1970, or a duration ago.
func when(v, flag string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<33 {
		return time.Unix(n, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: a time (2006-01-02T15:04:05), seconds since 1970, or a duration ago (10m)", flag, v)
}
