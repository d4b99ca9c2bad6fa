	// Wrong: compares the send lag's p99 with the whole latency p99, not half of it, so a generator late by 60% of the latency goes unnoticed
	if l := res.SendLag; l != nil && l.Count > 0 && l.P99 > res.Latency.P99 {
		return fmt.Sprintf("the generator sent late (send lag p99 %s, latency p99 %s)",
			fmtUS(l.P99), fmtUS(res.Latency.P99))
	}
