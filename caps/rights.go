package caps

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says what resource a handle stands for.
type Kind uint8

// Handle kinds.
const (
	KindMemory  Kind = iota + 1 // a sealed memfd: the sentry's whole memory quota
	KindDir                     // an O_PATH directory fd: a file tree
	KindFile                    // an ordinary open file, e.g. a dup of host stdio
	KindNIC                     // a SOCK_SEQPACKET end exo relays to a network interface, one frame per record
	KindHostNet                 // the right to ask exo for TCP/UDP sockets of its netns (hostsock.go)
	KindSocket                  // one host socket exo made through a KindHostNet handle; never in the table
	KindTasks                   // the right to have exo count stub threads as the container's tasks (tasks.go)
)

var kindNames = map[Kind]string{
	KindMemory:  "memory",
	KindDir:     "dir",
	KindFile:    "file",
	KindNIC:     "nic",
	KindHostNet: "hostnet",
	KindSocket:  "socket",
	KindTasks:   "tasks",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) valid() bool {
	_, ok := kindNames[k]
	return ok
}

// MarshalText makes listings and the wire protocol readable ("memory").
func (k Kind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("caps: marshal kind %d: %w", uint8(k), ErrInvalid)
	}
	return []byte(k.String()), nil
}

// UnmarshalText accepts the names produced by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	for kk, s := range kindNames {
		if s == string(b) {
			*k = kk
			return nil
		}
	}
	return fmt.Errorf("caps: unknown kind %q: %w", b, ErrInvalid)
}

// Rights is the set of operations a handle allows.
type Rights uint32

// Rights bits.
const (
	RightRead  Rights = 1 << iota // read data / look up files beneath a dir
	RightWrite                    // modify data / create and write files beneath a dir
	RightMap                      // memory may be mapped into address spaces
	RightGrant                    // the handle may be attenuated and passed on

	// AllRights is every defined bit; anything else is invalid.
	AllRights = RightRead | RightWrite | RightMap | RightGrant
)

// rightLetters is indexed by bit position and fixes the String layout.
const rightLetters = "rwmg"

// String renders rights like ls does for modes: "rw-g" is read, write, grant.
func (r Rights) String() string {
	var b strings.Builder
	for i := range len(rightLetters) {
		if r&(1<<i) != 0 {
			b.WriteByte(rightLetters[i])
		} else {
			b.WriteByte('-')
		}
	}
	if extra := r &^ AllRights; extra != 0 {
		fmt.Fprintf(&b, "+%#x", uint32(extra))
	}
	return b.String()
}

// ParseRights is the inverse of Rights.String for valid rights.
func ParseRights(s string) (Rights, error) {
	if len(s) != len(rightLetters) {
		return 0, fmt.Errorf("caps: parse rights %q: want %d characters: %w", s, len(rightLetters), ErrInvalid)
	}
	var r Rights
	for i := range len(rightLetters) {
		switch s[i] {
		case rightLetters[i]:
			r |= 1 << i
		case '-':
		default:
			return 0, fmt.Errorf("caps: parse rights %q: bad character %q at %d: %w", s, s[i], i, ErrInvalid)
		}
	}
	return r, nil
}

// MarshalText renders rights as String does.
func (r Rights) MarshalText() ([]byte, error) {
	if r&^AllRights != 0 {
		return nil, fmt.Errorf("caps: marshal rights %#x: %w", uint32(r), ErrInvalid)
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses the form produced by MarshalText.
func (r *Rights) UnmarshalText(b []byte) error {
	v, err := ParseRights(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ID names a handle within one Exo. IDs are never reused, so a stale ID can
// only ever find its own (revoked or pruned) handle, never a newer one.
type ID uint32

// Errors reported by the handle table, locally and across the wire; test with
// errors.Is.
var (
	ErrNotFound  = errors.New("no such handle")
	ErrRevoked   = errors.New("handle revoked")
	ErrWrongKind = errors.New("wrong handle kind")
	ErrDenied    = errors.New("rights denied")
	ErrInvalid   = errors.New("invalid argument")
	ErrQuota     = errors.New("quota exceeded")
	ErrClosed    = errors.New("closed")
)

// errorCodes maps sentinels to stable wire codes so the client can rebuild
// errors.Is-comparable errors from the server's reply.
var errorCodes = []struct {
	code string
	err  error
}{
	{"not_found", ErrNotFound},
	{"revoked", ErrRevoked},
	{"wrong_kind", ErrWrongKind},
	{"denied", ErrDenied},
	{"invalid", ErrInvalid},
	{"quota", ErrQuota},
	{"closed", ErrClosed},
}

func codeOf(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

func errOfCode(code string) error {
	for _, c := range errorCodes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}
