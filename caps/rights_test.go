package caps

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestRightsString(t *testing.T) {
	for _, tc := range []struct {
		r    Rights
		want string
	}{
		{0, "----"},
		{RightRead | RightWrite | RightGrant, "rw-g"},
		{RightRead | RightWrite | RightMap, "rwm-"},
		{AllRights, "rwmg"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%#x.String() = %q, want %q", uint32(tc.r), got, tc.want)
		}
		back, err := ParseRights(tc.want)
		if err != nil || back != tc.r {
			t.Errorf("ParseRights(%q) = %v, %v; want %v", tc.want, back, err, tc.r)
		}
	}
	if got := Rights(1 << 7).String(); got != "----+0x80" {
		t.Errorf("unknown bit renders as %q", got)
	}
	for _, bad := range []string{"", "rw", "rwmgx", "wr--", "r?--"} {
		if _, err := ParseRights(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRights(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestKindText(t *testing.T) {
	for _, k := range []Kind{KindMemory, KindDir, KindFile, KindNIC, KindHostNet, KindSocket, KindTasks} {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var back Kind
		if err := json.Unmarshal(b, &back); err != nil || back != k {
			t.Errorf("round trip %s via %s: %v, %v", k, b, back, err)
		}
	}
	if s := Kind(9).String(); s != "kind(9)" {
		t.Errorf("Kind(9) = %q", s)
	}
	if _, err := json.Marshal(Kind(9)); err == nil {
		t.Error("marshalling an unknown kind succeeded")
	}
	var k Kind
	if err := json.Unmarshal([]byte(`"printer"`), &k); err == nil {
		t.Error("unmarshalling an unknown kind succeeded")
	}
}

func TestHandleInfoJSON(t *testing.T) {
	b, err := json.Marshal(HandleInfo{ID: 3, Kind: KindDir, Rights: RightRead | RightGrant, Name: "rootfs", Parent: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":3,"kind":"dir","rights":"r--g","name":"rootfs","parent":1}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
