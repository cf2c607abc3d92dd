// Command agentclient lists the keys of the ssh agent at $SSH_AUTH_SOCK
// (or at the socket given as its argument), one "type comment" per line.
// whittle's RUN --mount=type=ssh tests build it statically and run it in
// the sandbox, whose busybox has no unix socket client.
package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh/agent"
)

func main() {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if len(os.Args) > 1 {
		sock = os.Args[1]
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	keys, err := agent.NewClient(c).List()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, k := range keys {
		fmt.Println(k.Type(), k.Comment)
	}
}
