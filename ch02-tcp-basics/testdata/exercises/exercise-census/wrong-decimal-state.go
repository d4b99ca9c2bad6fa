	// Wrong: reads the state as a decimal number: LISTEN is 0A, a hex number
	counts := map[State]int{}
	sc := bufio.NewScanner(r)
	sc.Scan()
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		local, err := parseProcAddr(fields[1])
		if err != nil {
			return nil, err
		}
		if local.Port() != port {
			continue
		}
		st, err := strconv.ParseUint(fields[3], 10, 8)
		if err != nil {
			continue
		}
		if s, known := linuxStates[st]; known {
			counts[s]++
		}
	}
	return counts, sc.Err()
