# Wrong: setdefaulttimeout applies to sockets created later, not to this one
if args.idle_timeout:
    socket.setdefaulttimeout(args.idle_timeout)
