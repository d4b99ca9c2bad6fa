// Wrong: compares with the first pin only, so a backup pin never matches
if len(st.PeerCertificates) == 0 || len(pins) == 0 {
	return errors.New("pin: nothing to compare")
}
if got := KeyPin(st.PeerCertificates[0]); got != pins[0] {
	return fmt.Errorf("pin: the server's key sha256/%s is not pinned", PinString(got))
}
return nil
