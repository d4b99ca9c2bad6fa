// Wrong: hashes the whole certificate, not its key: a renewed certificate for the same key is refused
if len(st.PeerCertificates) == 0 {
	return errors.New("pin: the server sent no certificate")
}
if got := sha256.Sum256(st.PeerCertificates[0].Raw); !slices.Contains(pins, got) {
	return fmt.Errorf("pin: the server's certificate sha256/%s is not pinned", PinString(got))
}
return nil
