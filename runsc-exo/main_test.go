package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// containerd's shim takes a failed command's reason from the last entry of
// level "error" in the --log file, as runc's logrus writes it.
func TestLogLevelsAsRunc(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: runcLevel}))
	l.Error("e")
	l.Warn("w")
	l.Info("i")
	l.Debug("d")
	var got []string
	dec := json.NewDecoder(&b)
	for {
		var e struct{ Level, Msg string }
		if err := dec.Decode(&e); err != nil {
			break
		}
		got = append(got, e.Msg+"="+e.Level)
	}
	if want := "e=error w=warning i=info d=debug"; strings.Join(got, " ") != want {
		t.Errorf("levels %q, want %q", strings.Join(got, " "), want)
	}
}
