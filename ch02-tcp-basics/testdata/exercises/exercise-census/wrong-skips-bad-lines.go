	// Wrong: leaves out a line it cannot read instead of saying so
	counts := map[State]int{}
	sc := bufio.NewScanner(r)
	sc.Scan()
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		local, err := parseProcAddr(fields[1])
		if err != nil || local.Port() != port {
			continue
		}
		st, err := strconv.ParseUint(fields[3], 16, 8)
		if s, known := linuxStates[st]; err == nil && known {
			counts[s]++
		}
	}
	return counts, sc.Err()
