    # Wrong: compares only the lengths, which round_trip already made equal, so a corrupted byte passes
    if len(got) != len(sent):
        raise EchoMismatchError(f"echo is {len(got)} bytes, sent {len(sent)}")
