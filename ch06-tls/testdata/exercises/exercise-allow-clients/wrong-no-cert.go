// Wrong: checks a certificate only when there is one, so a client without any is let in
if len(st.PeerCertificates) > 0 && !slices.Contains(names, st.PeerCertificates[0].Subject.CommonName) {
	return fmt.Errorf("allow: client %q is not allowed", st.PeerCertificates[0].Subject.CommonName)
}
return nil
