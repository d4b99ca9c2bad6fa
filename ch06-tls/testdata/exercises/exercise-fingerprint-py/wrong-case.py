# Wrong: compares the text as given, so the upper-case AB:CD:... form openssl prints never matches
got = hashlib.sha256(der).hexdigest()
if want.replace(":", "") != got:
    raise ssl.SSLCertVerificationError(f"certificate fingerprint {got} is not {want}")
