// Command nettool is the static Go HTTP server and client the netns tests
// run in and out of the sandbox:
//
//	nettool serve ADDR TEXT     serve TEXT at every path on ADDR, but
//	                            N bytes at /bytes/N
//	nettool get URL             print the body at URL (retrying a while)
//	nettool count URL           print how many bytes the body at URL has
//	                            (waiting up to two minutes for it)
//	nettool udpecho ADDR TEXT   answer every UDP datagram on ADDR with TEXT and what it said
//	nettool udpsend ADDR TEXT   send TEXT to a UDP ADDR and print the answer (retrying a while)
//	nettool raw                 try to make raw, packet and ping sockets: exit 0 if all fail
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "raw" {
		os.Exit(raw())
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: nettool serve ADDR TEXT | get URL | udpecho ADDR TEXT | udpsend ADDR TEXT | raw")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "udpecho":
		if len(os.Args) != 4 {
			os.Exit(2)
		}
		c, err := net.ListenPacket("udp", os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				fmt.Fprintln(os.Stderr, "read:", err)
				os.Exit(1)
			}
			c.WriteTo([]byte(os.Args[3]+" got "+string(buf[:n])), from)
		}
	case "udpsend":
		if len(os.Args) != 4 {
			os.Exit(2)
		}
		c, err := net.Dial("udp", os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
		buf := make([]byte, 2048)
		for i := 0; i < 60; i++ {
			c.Write([]byte(os.Args[3]))
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				fmt.Println(string(buf[:n]))
				return
			}
			// Refused (nobody listening yet) comes back at once.
			time.Sleep(250 * time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, "udpsend: no answer")
		os.Exit(1)
	case "serve":
		if len(os.Args) != 4 {
			os.Exit(2)
		}
		l, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		text := os.Args[3]
		fmt.Println("listening")
		err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/")); err == nil && strings.HasPrefix(r.URL.Path, "/bytes/") {
				w.Write(make([]byte, n))
				return
			}
			fmt.Fprintf(w, "%s from %s\n", text, r.URL.Path)
		}))
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	case "count":
		c := &http.Client{Timeout: 2 * time.Minute}
		resp, err := c.Get(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "count:", err)
			os.Exit(1)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(1)
		}
		fmt.Printf("%d bytes\n", n)
		return
	case "get":
		c := &http.Client{Timeout: 5 * time.Second}
		var err error
		for i := 0; i < 60; i++ {
			var resp *http.Response
			if resp, err = c.Get(os.Args[2]); err == nil {
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil {
					fmt.Fprintln(os.Stderr, "read:", rerr)
					os.Exit(1)
				}
				fmt.Print(string(body))
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, "get:", err)
		os.Exit(1)
	}
	os.Exit(2)
}

// raw tries the sockets a sandbox must not get even with the host's
// network: each must fail (EPERM, EACCES, EAFNOSUPPORT, ...).
func raw() int {
	bad := 0
	for _, s := range []struct {
		what               string
		family, typ, proto int
	}{
		{"AF_PACKET SOCK_RAW", syscall.AF_PACKET, syscall.SOCK_RAW, 0x0300},
		{"AF_PACKET SOCK_DGRAM", syscall.AF_PACKET, syscall.SOCK_DGRAM, 0x0300},
		{"AF_INET SOCK_RAW ICMP", syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP},
		{"AF_INET SOCK_RAW RAW", syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW},
		{"AF_INET6 SOCK_RAW ICMPV6", syscall.AF_INET6, syscall.SOCK_RAW, syscall.IPPROTO_ICMPV6},
		{"AF_INET SOCK_DGRAM ICMP", syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_ICMP},
	} {
		fd, err := syscall.Socket(s.family, s.typ, s.proto)
		if err == nil {
			syscall.Close(fd)
			fmt.Printf("socket(%s): SUCCEEDED\n", s.what)
			bad++
			continue
		}
		fmt.Printf("socket(%s): %v\n", s.what, err)
	}
	if bad > 0 {
		return 1
	}
	return 0
}
