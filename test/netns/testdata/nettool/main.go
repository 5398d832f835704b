// Command nettool is the static Go HTTP server and client the netns tests
// run in and out of the sandbox:
//
//	nettool serve ADDR TEXT   serve TEXT at every path on ADDR, but
//	                          N bytes at /bytes/N
//	nettool get URL           print the body at URL (retrying a while)
//	nettool count URL         print how many bytes the body at URL has
//	                          (waiting up to two minutes for it)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: nettool serve ADDR TEXT | get URL")
		os.Exit(2)
	}
	switch os.Args[1] {
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
