# Wrong: sets the timeout even when it is 0, and settimeout(0) makes the socket non-blocking
sock.settimeout(args.idle_timeout)
