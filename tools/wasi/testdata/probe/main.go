// Command probe tries, from inside the WASI sandbox, what a module was not
// handed: a second listening port, a dial out, a file outside its
// directory. It prints one line per attempt; TestSandbox reads them.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	// On wasip1, net.Listen does not fail: it binds Go's in-process
	// stand-in network (net's fake netFD), which nothing outside the module
	// can reach. The test dials the same port from the host while this
	// listener is open, and must be refused.
	ln, err := net.Listen("tcp", os.Args[1])
	fmt.Println("listen:", verdict(err))
	if err == nil {
		buf := make([]byte, 1)
		_, _ = os.Stdin.Read(buf) // until the test has dialed
		ln.Close()
	}
	_, err = net.Dial("tcp", os.Getenv("WASI_LISTEN_ADDR"))
	fmt.Println("dial:", verdict(err))
	_, err = os.ReadFile("/../etc/hostname")
	fmt.Println("outside:", verdict(err))
	_, err = os.ReadFile("/inside.txt")
	fmt.Println("inside:", verdict(err))
}

func verdict(err error) string {
	if err != nil {
		return "refused"
	}
	return "allowed"
}
