		// Wrong: the memstats test inverted, so it descends into memstats only and never into the server's own map
		var obj map[string]json.RawMessage
		if depth == 0 && name == "memstats" && json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				visit(name+"."+k, v, 1)
			}
		}
