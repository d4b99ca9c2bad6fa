// Wrong: accepts a pin of any certificate in the chain, so pinning the CA lets every leaf it signs through
for _, cert := range st.VerifiedChains[0] {
	if slices.Contains(pins, KeyPin(cert)) {
		return nil
	}
}
return fmt.Errorf("pin: no certificate of the chain is pinned")
