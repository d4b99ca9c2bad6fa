	// Wrong: reads the header line as a socket
	counts := map[State]int{}
	sc := bufio.NewScanner(r)
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
		st, err := strconv.ParseUint(fields[3], 16, 8)
		s, known := linuxStates[st]
		if err != nil || !known {
			return nil, fmt.Errorf("unknown state %q", fields[3])
		}
		counts[s]++
	}
	return counts, sc.Err()
