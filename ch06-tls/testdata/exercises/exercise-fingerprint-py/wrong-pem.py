# Wrong: hashes the PEM text instead of the DER bytes, which is not what openssl's fingerprint is
got = hashlib.sha256(ssl.DER_cert_to_PEM_cert(der).encode()).hexdigest()
if want.replace(":", "").lower() != got:
    raise ssl.SSLCertVerificationError(f"certificate fingerprint {got} is not {want}")
