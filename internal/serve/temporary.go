package serve

import (
	"errors"
	"net"
)

// Temporary reports whether an Accept error is worth retrying: the process
// or the system is out of file descriptors (EMFILE, ENFILE) or kernel memory
// (ENOBUFS, ENOMEM), a client gave up while it waited in the queue
// (ECONNABORTED), the call was interrupted (EINTR), or a deadline set on the
// listener passed. Any other error is permanent. (net.Error's Temporary
// method is deprecated: it was never well defined, so the errors are named.)
func Temporary(err error) bool {
	for _, errno := range temporaryErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
