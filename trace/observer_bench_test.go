package trace

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkObserverStorm drives reported system calls (prctl) from this
// process at paced rates, then unthrottled, and reports how many reached user
// space and how many the ring buffer dropped. Run it with -benchtime=1x (each
// rate is one fixed storm); hack/bench.sh does.
func BenchmarkObserverStorm(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the observer loads BPF programs: needs root")
	}
	for _, rate := range []int{10_000, 50_000, 100_000, 200_000, 400_000, 0} {
		calls := 300_000
		if rate > 0 {
			calls = min(calls, 2*rate) // about two seconds per rate
		}
		name := fmt.Sprintf("rate=%d/s", rate)
		if rate == 0 {
			name = "rate=unthrottled"
		}
		b.Run(name, func(b *testing.B) {
			o, err := StartObserver(os.Getpid())
			if err != nil {
				b.Fatal(err)
			}
			runtime.LockOSThread()
			start := time.Now()
			for i := 1; i <= calls; i++ {
				unix.Prctl(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
				if rate > 0 && i%500 == 0 {
					if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
						time.Sleep(d)
					}
				}
			}
			elapsed := time.Since(start)
			runtime.UnlockOSThread()
			events, lost := o.Stop()
			b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
			b.ReportMetric(float64(len(events)), "events")
			b.ReportMetric(float64(lost), "lost")
		})
	}
}
