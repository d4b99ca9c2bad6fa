    # Wrong: checks only the first byte, so a byte corrupted later in the echo passes
    if got[:1] != sent[:1]:
        raise EchoMismatchError("echo differs at byte 0")
