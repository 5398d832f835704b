// Command nettool is the static Go HTTP server and client the netns tests
// run in and out of the sandbox:
//
//	nettool serve ADDR TEXT   serve TEXT at every path on ADDR
//	nettool get URL           print the body at URL (retrying a while)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
			fmt.Fprintf(w, "%s from %s\n", text, r.URL.Path)
		}))
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
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
