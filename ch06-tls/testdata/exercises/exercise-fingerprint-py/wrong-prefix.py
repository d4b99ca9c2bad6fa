# Wrong: accepts any beginning of the fingerprint, the empty one included
got = hashlib.sha256(der).hexdigest()
if not got.startswith(want.replace(":", "").lower()):
    raise ssl.SSLCertVerificationError(f"certificate fingerprint {got} is not {want}")
