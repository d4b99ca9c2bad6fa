		// Wrong: decodes the nested map as numbers only, so one string beside the counters (an address) hides them all
		var obj map[string]int64
		if depth == 0 && name != "memstats" && json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				b, _ := json.Marshal(v)
				visit(name+"."+k, b, 1)
			}
		}
