// Wrong: looks at the issuer's name (the CA), not the client's: every client of the CA is judged alike
if len(st.PeerCertificates) == 0 {
	return errors.New("allow: the client sent no certificate")
}
if cn := st.PeerCertificates[0].Issuer.CommonName; !slices.Contains(names, cn) {
	return fmt.Errorf("allow: client %q is not allowed", cn)
}
return nil
