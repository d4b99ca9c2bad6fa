package tracing

import "sync"

// Recorder is an Exporter that keeps every span in memory, for tests:
// tracing.New(&tracing.Recorder{}) traces into it.
type Recorder struct {
	mu    sync.Mutex
	spans []SpanData
}

// ExportSpan keeps d.
func (r *Recorder) ExportSpan(d SpanData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, d)
}

// Spans returns the spans ended so far, in the order they ended.
func (r *Recorder) Spans() []SpanData {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SpanData(nil), r.spans...)
}

// Named returns the ended spans called name, in the order they ended.
func (r *Recorder) Named(name string) []SpanData {
	var out []SpanData
	for _, s := range r.Spans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}
