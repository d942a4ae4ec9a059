package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/stages"
)

// printTimeline draws each stage half as a bar on one time axis, from the first
// stage's start to the execve (or the failure).
func printTimeline(w io.Writer, id string, timeline []stages.Timing) {
	if len(timeline) == 0 {
		return
	}
	start, end := timeline[0].Start, timeline[0].End
	for _, t := range timeline {
		start = minTime(start, t.Start)
		end = maxTime(end, t.End)
	}
	total := end.Sub(start)
	const width = 40
	fmt.Fprintf(w, "glassbox %s: %d stage steps, %s from first stage to exec\n",
		container.ShortID(id), len(timeline), ms(total))
	for _, t := range timeline {
		from := int(float64(t.Start.Sub(start)) / float64(max(total, 1)) * width)
		n := max(1, int(float64(t.End.Sub(t.Start))/float64(max(total, 1))*width))
		if from+n > width {
			n = width - from
		}
		status := ""
		if t.Err != nil {
			status = "  FAILED"
		}
		fmt.Fprintf(w, "  %-8s %-9s |%s%s%s| %9s%s\n", t.Stage, t.Side,
			strings.Repeat(" ", from), strings.Repeat("█", max(n, 0)), strings.Repeat(" ", max(width-from-n, 0)),
			ms(t.End.Sub(t.Start)), status)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
