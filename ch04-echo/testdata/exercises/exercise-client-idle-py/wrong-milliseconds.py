# Wrong: takes the option for seconds that settimeout wants in milliseconds: 300 s, not 300 ms
if args.idle_timeout:
    sock.settimeout(args.idle_timeout * 1000)
