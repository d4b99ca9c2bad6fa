	// Wrong: counts a socket whose remote port is the port too: the clients' own ends
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
		remote, err := parseProcAddr(fields[2])
		if err != nil {
			return nil, err
		}
		if local.Port() != port && remote.Port() != port {
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
