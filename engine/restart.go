package engine

// Restart policies (--restart, spec.RestartPolicy): when a detached
// container's program exits, its monitor — after the teardown, as for any
// exit — asks RestartIfDue, which waits out Docker's back-off (100 ms,
// doubling with each restart, at most a minute; back to 100 ms after a run of
// 10 s or more) and starts it again under a new monitor, as glassbox start
// does. A stop (StopMark) ends the policy's say until the next start; so does
// its removal.

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
)

// RestartIfDue starts a container that exited with code again if its policy
// says so: whether it did.
func (e *Engine) RestartIfDue(c *container.Container, code int) (bool, error) {
	now, err := container.Load(c.Dir)
	if err != nil || now.Spec == nil {
		return false, nil // removed
	}
	policy, err := spec.ParseRestart(now.Spec.Annotations[spec.RestartAnnotation])
	if err != nil || !policy.Due(code, now.RestartCount, stopRequested(now)) {
		return false, err
	}
	delay := time.Duration(0)
	if ran := now.Finished.Sub(now.Started); ran < 10*time.Second {
		delay = min(100*time.Millisecond<<min(now.RestartCount, 10), time.Minute)
	} else {
		delay = 100 * time.Millisecond
	}
	if err := setRestarting(now, true, now.RestartCount+1); err != nil {
		return false, nil // taken meanwhile: a start, an rm
	}
	for deadline := time.Now().Add(delay); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(now.Dir); err != nil {
			return false, nil // removed while it waited
		}
		if stopRequested(now) {
			return false, setRestarting(now, false, now.RestartCount)
		}
	}
	now, err = container.Load(c.Dir)
	if err != nil {
		return false, nil
	}
	if err := e.start(context.Background(), now, "restart"); err != nil {
		setRestarting(now, false, now.RestartCount)
		return false, err
	}
	return true, nil
}

func stopRequested(c *container.Container) bool {
	_, err := os.Stat(c.Path(container.StopMark))
	return err == nil
}

// setRestarting records the wait for a restart, under the container's lock.
func setRestarting(c *container.Container, restarting bool, count int) error {
	if err := c.Lock(); err != nil {
		return err
	}
	defer c.Unlock()
	now, err := container.Load(c.Dir)
	if err != nil {
		return err
	}
	if now.Status != container.Exited {
		return errors.New("it is not exited")
	}
	now.Restarting, now.RestartCount = restarting, count
	c.Restarting, c.RestartCount = restarting, count
	return now.Save()
}
