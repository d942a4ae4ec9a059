package daemon

import (
	"encoding/json"
	"net/http"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
)

// containerStats: GET /containers/{id}/stats?stream=0|1&one-shot=1 — docker
// stats. Each answer carries the sample before it (precpu_stats), from which
// the client computes the CPU share; one-shot has none. Streaming, a sample
// a second, until the container exits or the client goes.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	prev, err := s.eng.Stats(c)
	if err != nil {
		fail(w, err)
		return
	}
	stream := r.URL.Query().Get("stream") == "" || boolParam(r, "stream")
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	if boolParam(r, "one-shot") && !stream {
		enc.Encode(statsResponse(c, nil, prev))
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Second):
		}
		cur, err := s.eng.Stats(c)
		if err != nil {
			return // exited
		}
		if enc.Encode(statsResponse(c, prev, cur)) != nil || !stream {
			return
		}
		rc.Flush()
		prev = cur
	}
}

func statsResponse(c *container.Container, prev, cur *engine.Sample) apicontainer.StatsResponse {
	cpu := func(s *engine.Sample) apicontainer.CPUStats {
		return apicontainer.CPUStats{CPUUsage: apicontainer.CPUUsage{TotalUsage: uint64(s.CPU)},
			SystemUsage: uint64(s.HostCPU), OnlineCPUs: uint32(s.CPUs)}
	}
	out := apicontainer.StatsResponse{
		ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: cur.At,
		CPUStats:    cpu(cur),
		MemoryStats: apicontainer.MemoryStats{Usage: cur.Memory, Limit: cur.MemoryLimit},
		PidsStats:   apicontainer.PidsStats{Current: cur.Pids},
		BlkioStats: apicontainer.BlkioStats{IoServiceBytesRecursive: []apicontainer.BlkioStatEntry{
			{Op: "read", Value: cur.ReadBytes}, {Op: "write", Value: cur.WriteBytes}}},
		Networks: map[string]apicontainer.NetworkStats{"eth0": {RxBytes: cur.NetRx, TxBytes: cur.NetTx}},
	}
	if prev != nil {
		out.PreRead, out.PreCPUStats = prev.At, cpu(prev)
	}
	return out
}
