// Wrong: compares only the beginning of the name, so "course-client-2" passes as "course-client"
if len(st.PeerCertificates) == 0 {
	return errors.New("allow: the client sent no certificate")
}
cn := st.PeerCertificates[0].Subject.CommonName
for _, name := range names {
	if len(cn) >= len(name) && cn[:len(name)] == name {
		return nil
	}
}
return fmt.Errorf("allow: client %q is not allowed", cn)
