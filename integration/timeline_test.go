package integration

// trace html, as a browser shows it: Debian's chromium, headless, driven
// over its DevTools protocol (chromedp) — the page's DOM after its script
// ran, clicks on it, and a screenshot.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a headless chromium for one test.
func browser(t *testing.T) context.Context {
	// Debian's browser itself, not /usr/bin/chromium: that wrapper only adds
	// flags from /etc/chromium.d, which the VM's /etc does not have.
	path := "/usr/lib/chromium/chromium"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Skip("chromium is not installed (.ci/run installs Debian's)")
		}
	}
	// Chromium leaves an org.chromium.Chromium.* directory in TMPDIR: the
	// test's own, so that it goes with the test.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1400, 900), chromedp.Env("TMPDIR="+t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// evaluate runs a script in the page and gives its value.
func evaluate[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("chromium: %s: %v", js, err)
	}
	return v
}

// The timeline opens at the stages, a lane per process above them; a stage
// opens to its steps and kernel events; the axis zooms; a stage's chapter is
// one click away; a failed run shows its report; nothing is fetched.
func TestTimelineInChromium(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	e.ok("run", "--name", "ok", "busybox", "echo", "hi")
	e.run("", "run", "--name", "bad", "--tmpfs", "/x:size=abc", "busybox", "true")
	dir := t.TempDir()
	page := func(name string) string {
		out := filepath.Join(dir, name+".html")
		e.ok("trace", "html", name, "-o", out)
		html := string(must(os.ReadFile(out)))
		for _, fetch := range []string{"src=", "href=", "<link", "@import", "url("} {
			if strings.Contains(html, fetch) {
				t.Errorf("the page fetches something (%q): it must be self-contained", fetch)
			}
		}
		return "file://" + out
	}
	ctx := browser(t)
	visible := `[...document.querySelectorAll("#rows .row")].filter(r => r.style.display !== "none").map(r => r.className.split(" ")[1] + ":" + r.dataset.name)`
	if err := chromedp.Do(ctx, chromedp.Navigate(page("ok"))); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	rows := evaluate[[]string](t, ctx, visible)
	lanes := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#lanes .row .label")].map(l => l.textContent)`)
	screenshot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	full := evaluate[float64](t, ctx, `+document.getElementById("ticks").dataset.to`)
	zoomed := evaluate[float64](t, ctx, `document.getElementById("zoomin").click(); document.getElementById("ticks").dataset.to - document.getElementById("ticks").dataset.from`)
	mountOpen := evaluate[[]string](t, ctx, `document.querySelector('#rows .row.stage[data-name="mount"] .toggle').click(); `+visible)
	chapter := evaluate[string](t, ctx, `document.querySelector('#rows .row.stage[data-name="mount"] .help').click(); document.getElementById("chapter").style.display + " " + document.getElementById("chaptertext").textContent`)
	os.WriteFile(filepath.Join(dir, "timeline.png"), screenshot, 0o644)
	if len(screenshot) < 10000 {
		t.Errorf("the screenshot is %d bytes: nothing drawn?", len(screenshot))
	}
	stages := strings.Join(rows, " ")
	for _, st := range []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec", "container", "teardown"} {
		if !strings.Contains(stages, "stage:"+st) {
			t.Errorf("the page opens without the %s stage: %v", st, rows)
		}
	}
	if strings.Contains(stages, "step:") || strings.Contains(stages, "kernel:") {
		t.Errorf("the page opens with steps or kernel events showing, want the stages only: %v", rows)
	}
	if lanesText := strings.Join(lanes, "|"); !strings.Contains(lanesText, "glassbox (host side), pid ") || !strings.Contains(lanesText, "container init, pid ") {
		t.Errorf("the process lanes: %q, want glassbox's and the container init's", lanes)
	}
	if zoomed <= 0 || zoomed > full*0.51 {
		t.Errorf("zoom in: the axis shows %.2f ms of %.2f, want half", zoomed, full)
	}
	opened := strings.Join(mountOpen, " ")
	if !strings.Contains(opened, "step:pivot_root") || strings.Contains(opened, "step:mount overlay") {
		t.Errorf("opening mount: want its steps (pivot_root), not another stage's: %v", mountOpen)
	}
	if !strings.HasPrefix(chapter, "block ") || !strings.Contains(chapter, "pivot_root(2)") {
		t.Errorf("mount's chapter: %.80q", chapter)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(page("bad"))); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	failure := evaluate[string](t, ctx, `getComputedStyle(document.getElementById("failure")).display + " " + document.getElementById("failure").textContent`)
	if !strings.HasPrefix(failure, "block stage mount: mount(") || !strings.Contains(failure, `the kernel refused: mount("tmpfs"`) {
		t.Errorf("the failed run's page: its report %q", failure)
	}
	e.ok("rm", "ok")
	e.noState()
}
