	// Wrong: warns whenever the send lag was recorded, late or not
	if l := res.SendLag; l != nil && l.Count > 0 {
		return fmt.Sprintf("the generator sent late (send lag p99 %s, latency p99 %s)",
			fmtUS(l.P99), fmtUS(res.Latency.P99))
	}
