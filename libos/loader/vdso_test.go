package loader

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
)

// TestVVarLayout holds vvarData to the offsets vdso.c asserts for struct
// vvar_data.
func TestVVarLayout(t *testing.T) {
	typ := reflect.TypeOf(vvarData{})
	if typ.NumField() != len(vvarOffsets) {
		t.Fatalf("vvarData has %d fields, vvarOffsets %d", typ.NumField(), len(vvarOffsets))
	}
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Offset != vvarOffsets[i] {
			t.Errorf("vvarData.%s at offset %d, vdso.c has %d", f.Name, f.Offset, vvarOffsets[i])
		}
	}
	if s := unsafe.Sizeof(vvarData{}); s > VDSODataSize {
		t.Errorf("vvarData is %d bytes, more than the page", s)
	}
	src, err := os.ReadFile("vdso/vdso.c")
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range vvarOffsets[1:] {
		name := typ.Field(i + 1).Name
		if !bytes.Contains(src, []byte(fmt.Sprintf("== %d, \"layout\"", off))) {
			t.Errorf("vdso.c does not assert offset %d (vvarData.%s)", off, name)
		}
	}
}

// vdsoSymbols are the functions the image exports, as Linux's does.
var vdsoSymbols = []string{
	"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_clock_getres", "__vdso_getcpu",
	"clock_gettime", "gettimeofday", "time", "clock_getres", "getcpu",
}

// TestVDSOImage checks the image's shape with debug/elf: what tools/genvdso
// checks when it builds it, held here for the checked-in bytes.
func TestVDSOImage(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader([]byte(vdsoImage)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		t.Fatalf("image is %v %v %v", f.Class, f.Machine, f.Type)
	}
	var loads int
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads++
			if p.Off != 0 || p.Vaddr != 0 || p.Flags != elf.PF_R|elf.PF_X || p.Filesz != p.Memsz || p.Memsz > uint64(len(vdsoImage)) {
				t.Errorf("PT_LOAD %+v: want R+X from offset and address 0, within the file", p.ProgHeader)
			}
		case elf.PT_DYNAMIC:
			if p.Flags&elf.PF_W != 0 {
				t.Error("PT_DYNAMIC is writable: glibc would adjust it in place")
			}
		case elf.PT_TLS, elf.PT_INTERP:
			t.Errorf("unexpected %v", p.Type)
		}
	}
	if loads != 1 {
		t.Errorf("%d PT_LOAD segments, want 1", loads)
	}
	if so, _ := f.DynString(elf.DT_SONAME); len(so) != 1 || so[0] != "linux-vdso.so.1" {
		t.Errorf("DT_SONAME = %q", so)
	}
	for _, tag := range []elf.DynTag{elf.DT_NEEDED, elf.DT_RELA, elf.DT_REL, elf.DT_JMPREL, elf.DT_TEXTREL} {
		if v, _ := f.DynValue(tag); len(v) != 0 {
			t.Errorf("image has %v", tag)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]elf.Symbol{}
	for _, s := range syms {
		got[s.Name] = s
	}
	for _, name := range vdsoSymbols {
		s, ok := got[name]
		if !ok {
			t.Errorf("%s not exported", name)
			continue
		}
		if s.Version != "LINUX_2.6" || elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF {
			t.Errorf("%s: version %q type %v section %v", name, s.Version, elf.ST_TYPE(s.Info), s.Section)
		}
	}
	for _, pair := range [][2]string{{"clock_gettime", "__vdso_clock_gettime"}, {"time", "__vdso_time"}, {"getcpu", "__vdso_getcpu"}} {
		if got[pair[0]].Value != got[pair[1]].Value {
			t.Errorf("%s and %s differ", pair[0], pair[1])
		}
	}
}

// memImage reads the image the way a process's loader does: through the
// dynamic section found from the program headers, with addresses being
// offsets in the one segment that starts at 0.
type memImage struct {
	b                                             []byte
	symtab, strtab, hash, gnuHash, versym, verdef uint64
}

func (m *memImage) u16(a uint64) uint16 { return binary.LittleEndian.Uint16(m.b[a:]) }
func (m *memImage) u32(a uint64) uint32 { return binary.LittleEndian.Uint32(m.b[a:]) }
func (m *memImage) u64(a uint64) uint64 { return binary.LittleEndian.Uint64(m.b[a:]) }
func (m *memImage) str(a uint64) string {
	e := bytes.IndexByte(m.b[a:], 0)
	return string(m.b[a : a+uint64(e)])
}

func newMemImage(t *testing.T, b []byte) *memImage {
	m := &memImage{b: b}
	phoff, phnum := m.u64(32), uint64(m.u16(56))
	var dyn uint64
	for i := uint64(0); i < phnum; i++ {
		ph := phoff + i*56
		if elf.ProgType(m.u32(ph)) == elf.PT_DYNAMIC {
			dyn = m.u64(ph + 16) // p_vaddr
		}
	}
	if dyn == 0 {
		t.Fatal("no PT_DYNAMIC")
	}
	for d := dyn; ; d += 16 {
		tag, val := elf.DynTag(m.u64(d)), m.u64(d+8)
		if tag == elf.DT_NULL {
			break
		}
		switch tag {
		case elf.DT_SYMTAB:
			m.symtab = val
		case elf.DT_STRTAB:
			m.strtab = val
		case elf.DT_HASH:
			m.hash = val
		case elf.DT_GNU_HASH:
			m.gnuHash = val
		case elf.DT_VERSYM:
			m.versym = val
		case elf.DT_VERDEF:
			m.verdef = val
		}
	}
	if m.symtab == 0 || m.strtab == 0 || m.hash == 0 || m.gnuHash == 0 || m.versym == 0 || m.verdef == 0 {
		t.Fatalf("dynamic section lacks a table: %+v", *m)
	}
	return m
}

func elfHash(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = h<<4 + uint32(s[i])
		g := h & 0xf0000000
		h ^= g >> 24
		h &^= g
	}
	return h
}

func gnuHash(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h*33 + uint32(s[i])
	}
	return h
}

// versionOK checks symbol i's version against name, as musl's and the Go
// runtime's lookups do: the version index must name a definition whose
// hash and name match.
func (m *memImage) versionOK(i uint32, name string) bool {
	idx := m.u16(m.versym+uint64(i)*2) & 0x7fff
	for d := m.verdef; ; {
		flags, ndx, hash := m.u16(d+2), m.u16(d+4), m.u32(d+8)
		aux := d + uint64(m.u32(d+12))
		if flags&1 == 0 && ndx&0x7fff == idx {
			return hash == elfHash(name) && m.str(m.strtab+uint64(m.u32(aux))) == name
		}
		next := m.u32(d + 16)
		if next == 0 {
			return false
		}
		d += uint64(next)
	}
}

// symOK is musl's test of a symbol table entry: a defined function,
// object or untyped symbol, global or weak, of that name and version.
func (m *memImage) symOK(i uint32, name, version string) (uint64, bool) {
	s := m.symtab + uint64(i)*24
	info, shndx := m.b[s+4], m.u16(s+6)
	typ, bind := elf.ST_TYPE(info), elf.ST_BIND(info)
	if typ != elf.STT_FUNC && typ != elf.STT_OBJECT && typ != elf.STT_NOTYPE {
		return 0, false
	}
	if bind != elf.STB_GLOBAL && bind != elf.STB_WEAK || shndx == 0 {
		return 0, false
	}
	if m.str(m.strtab+uint64(m.u32(s))) != name || !m.versionOK(i, version) {
		return 0, false
	}
	return m.u64(s + 8), true
}

// lookupSysV finds a symbol through DT_HASH (musl uses only this table).
func (m *memImage) lookupSysV(name, version string) (uint64, bool) {
	nbucket, nchain := m.u32(m.hash), m.u32(m.hash+4)
	buckets, chains := m.hash+8, m.hash+8+uint64(nbucket)*4
	for i := m.u32(buckets + uint64(elfHash(name)%nbucket)*4); i != 0; i = m.u32(chains + uint64(i)*4) {
		if i >= nchain {
			return 0, false
		}
		if v, ok := m.symOK(i, name, version); ok {
			return v, true
		}
	}
	return 0, false
}

// lookupGNU finds a symbol through DT_GNU_HASH (glibc prefers it), bloom
// filter included.
func (m *memImage) lookupGNU(name, version string) (uint64, bool) {
	nbuckets, symoffset := m.u32(m.gnuHash), m.u32(m.gnuHash+4)
	bloomSize, bloomShift := m.u32(m.gnuHash+8), m.u32(m.gnuHash+12)
	bloom := m.gnuHash + 16
	buckets := bloom + uint64(bloomSize)*8
	chain := buckets + uint64(nbuckets)*4
	h := gnuHash(name)
	word := m.u64(bloom + uint64((h/64)%bloomSize)*8)
	if word>>(h%64)&1 == 0 || word>>((h>>bloomShift)%64)&1 == 0 {
		return 0, false
	}
	i := m.u32(buckets + uint64(h%nbuckets)*4)
	if i < symoffset {
		return 0, false
	}
	for ; ; i++ {
		ch := m.u32(chain + uint64(i-symoffset)*4)
		if ch|1 == h|1 {
			if v, ok := m.symOK(i, name, version); ok {
				return v, true
			}
		}
		if ch&1 != 0 {
			return 0, false
		}
	}
}

// TestVDSOSymbolLookup resolves every exported function the way libcs do,
// through each hash table with the version check, and makes sure a wrong
// version or name is not found.
func TestVDSOSymbolLookup(t *testing.T) {
	m := newMemImage(t, []byte(vdsoImage))
	f, err := elf.NewFile(bytes.NewReader([]byte(vdsoImage)))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.DynamicSymbols()
	want := map[string]uint64{}
	for _, s := range syms {
		want[s.Name] = s.Value
	}
	for _, name := range vdsoSymbols {
		v1, ok1 := m.lookupSysV(name, "LINUX_2.6")
		v2, ok2 := m.lookupGNU(name, "LINUX_2.6")
		if !ok1 || !ok2 || v1 != want[name] || v2 != want[name] {
			t.Errorf("%s: DT_HASH %#x %v, DT_GNU_HASH %#x %v, symbol table %#x", name, v1, ok1, v2, ok2, want[name])
		}
		if _, ok := m.lookupSysV(name, "LINUX_2.5"); ok {
			t.Errorf("%s found at version LINUX_2.5", name)
		}
	}
	for _, name := range []string{"__vdso_sgx_enter_enclave", "vvar_page", "read_ns", "LINUX_2.6x"} {
		if _, ok := m.lookupGNU(name, "LINUX_2.6"); ok {
			t.Errorf("%s found", name)
		}
		if _, ok := m.lookupSysV(name, "LINUX_2.6"); ok {
			t.Errorf("%s found", name)
		}
	}
}

// TestVDSOGeneratorReproduces rebuilds the image with tools/genvdso and
// compares it with the checked-in vdso_image.go, when the same compiler
// and linker are installed (others produce other bytes).
func TestVDSOGeneratorReproduces(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	cc, ld := toolVersions(t)
	if cc != vdsoCompiler || ld != vdsoLinker {
		t.Skipf("the image was built with %q and %q; this machine has %q and %q", vdsoCompiler, vdsoLinker, cc, ld)
	}
	out := filepath.Join(t.TempDir(), "vdso_image.go")
	cmd := exec.Command("go", "run", "../../tools/genvdso", "-src", "vdso", "-out", out)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genvdso: %v\n%s", err, o)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("vdso_image.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("vdso_image.go is stale: run `go generate ./libos/loader` and commit the result")
	}
}

func toolVersions(t *testing.T) (string, string) {
	first := func(name string, args ...string) string {
		o, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Skipf("%s %v: %v", name, args, err)
		}
		line, _, _ := strings.Cut(string(o), "\n")
		return strings.TrimSpace(line)
	}
	return first("gcc", "--version"), first(first("gcc", "-print-prog-name=ld"), "--version")
}

func TestLineAt(t *testing.T) {
	for _, c := range []struct{ tsc, tscBase, base, mult, want uint64 }{
		{100, 100, 5, 1 << 32, 5},
		{50, 100, 5, 1 << 32, 5}, // before the anchor: stays at base
		{1100, 100, 5, 1 << 32, 1005},
		{1100, 100, 5, 3 << 31, 1505},
		// A product past 64 bits.
		{1<<50 + 100, 100, 7, 768 << 32, 768<<50 + 7},
		{1 << 62, 0, 0, 1<<32 + 1, 1<<62 + 1<<30},
	} {
		if got := lineAt(c.tsc, c.tscBase, c.base, c.mult); got != c.want {
			t.Errorf("lineAt(%d, %d, %d, %#x) = %d, want %d", c.tsc, c.tscBase, c.base, c.mult, got, c.want)
		}
	}
}

// simHost is a host whose clocks and TSC follow a simulated true time, for
// the time keeper: the TSC runs at freq ticks per ns, CLOCK_MONOTONIC at
// monoRate ns per ns (NTP slewing), CLOCK_MONOTONIC_RAW at 1; every
// reading costs cost ns and is off by up to noise ns.
type simHost struct {
	rng              *rand.Rand
	t                float64 // true time, ns
	freq             float64
	tsc0             float64
	mono, raw        float64
	monoRate         float64
	realOff, bootOff int64
	taiSec           int64
	cost, noise      float64
	tscBack          bool
}

func newSimHost() *simHost {
	return &simHost{
		rng: rand.New(rand.NewPCG(1, 2)), freq: 2.9, tsc0: 1e13, mono: 5e12, raw: 5.1e12, monoRate: 1 + 20e-6,
		realOff: 1_700_000_000_000_000_000, bootOff: 3e9, taiSec: 37, cost: 300, noise: 40,
	}
}

func (h *simHost) advance(d float64) {
	h.t += d
	h.mono += d * h.monoRate
	h.raw += d
}

func (h *simHost) jitter() float64 { return (h.rng.Float64()*2 - 1) * h.noise }

func (h *simHost) now(clock int32) (int64, error) {
	h.advance(h.cost/2 + h.rng.Float64()*h.cost)
	v := h.mono + h.jitter()
	switch clock {
	case unix.CLOCK_MONOTONIC:
	case unix.CLOCK_MONOTONIC_RAW:
		v = h.raw + h.jitter()
	case unix.CLOCK_REALTIME:
		v += float64(h.realOff)
	case unix.CLOCK_BOOTTIME:
		v += float64(h.bootOff)
	case unix.CLOCK_TAI:
		v += float64(h.realOff + h.taiSec*1e9)
	default:
		return 0, unix.EINVAL
	}
	return int64(v), nil
}

func (h *simHost) tsc() uint64 {
	h.advance(10)
	if h.tscBack {
		return uint64(h.tsc0)
	}
	return uint64(h.tsc0 + h.t*h.freq)
}

// simKeeper is a time keeper on a simHost, writing a page in memory.
func simKeeper(h *simHost) (*timeKeeper, *vvarData) {
	d := &vvarData{}
	k := &timeKeeper{
		d:   d,
		src: h,
		pub: func(d *vvarData, u *vvarUpdate) uint64 {
			d.seq++
			tsc := h.tsc()
			apply(d, u, tsc)
			d.seq++
			return tsc
		},
		static: vvarUpdate{flags: vvarGetcpu, resHres: 1},
		tsc:    true,
	}
	return k, d
}

// TestTimeKeeperTracksHost runs the time keeper against a simulated host
// whose NTP slewing changes by 100 ppm and whose clock then jumps: the lines must stay
// within a few microseconds of the host, follow the jump at once, and
// never go back.
func TestTimeKeeperTracksHost(t *testing.T) {
	h := newSimHost()
	k, d := simKeeper(h)
	interval := float64(100 * time.Millisecond)
	var worst [3]float64 // settled, after the slew change, after the jump
	phase := 0
	for i := 0; i < 400; i++ {
		switch i {
		case 150:
			h.monoRate = 1 - 80e-6
			phase = 1
		case 300:
			h.mono += 5e6 // the host's clock moves 5 ms ahead of the TSC
			phase = 2
		}
		old := *d
		if err := k.update(); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if d.seq%2 != 0 {
			t.Fatal("sequence left odd")
		}
		if old.flags&vvarTSC != 0 {
			for _, l := range []struct {
				name             string
				oldBase, oldMult uint64
				newBase          uint64
			}{{"monotonic", old.monoBase, old.monoMult, d.monoBase}, {"raw", old.rawBase, old.rawMult, d.rawBase}} {
				if prev := lineAt(d.tscBase, old.tscBase, l.oldBase, l.oldMult); l.newBase < prev {
					t.Fatalf("update %d: %s line went back by %d ns", i, l.name, prev-l.newBase)
				}
			}
		}
		if i < 3 {
			// The first updates only measure.
			if i >= 1 && d.flags&vvarTSC == 0 {
				t.Fatalf("update %d: lines not valid yet", i)
			}
		}
		// Check the line against the host through the interval.
		for j := 0; j < 10; j++ {
			h.advance(interval / 10)
			if d.flags&vvarTSC == 0 || i < 20 {
				continue
			}
			tsc := uint64(h.tsc0 + h.t*h.freq)
			errMono := math.Abs(float64(lineAt(tsc, d.tscBase, d.monoBase, d.monoMult)) - h.mono)
			errRaw := math.Abs(float64(lineAt(tsc, d.tscBase, d.rawBase, d.rawMult)) - h.raw)
			worst[phase] = max(worst[phase], errMono, errRaw)
		}
	}
	t.Logf("worst error: settled %.0f ns, after a 100 ppm change of the slew %.0f ns, after a 5 ms jump %.0f ns", worst[0], worst[1], worst[2])
	if worst[0] > 1000 {
		t.Errorf("settled error %.0f ns, want < 1 µs", worst[0])
	}
	// 100 ppm for the interval before the change is seen is 10 µs.
	if worst[1] > 25000 {
		t.Errorf("error after a slew change %.0f ns, want < 25 µs", worst[1])
	}
	if worst[2] > 2000 {
		t.Errorf("error after the jump %.0f ns, want < 2 µs", worst[2])
	}
	if d.realOff != h.realOff && math.Abs(float64(d.realOff-h.realOff)) > 1000 {
		t.Errorf("realtime offset %d, host %d", d.realOff, h.realOff)
	}
	if math.Abs(float64(d.bootOff-h.bootOff)) > 1000 {
		t.Errorf("boottime offset %d, host %d", d.bootOff, h.bootOff)
	}
	if d.taiOff-d.realOff != 37e9 {
		t.Errorf("TAI offset from realtime %d, want 37 s", d.taiOff-d.realOff)
	}
	if d.flags != vvarTSC|vvarGetcpu || d.resHres != 1 {
		t.Errorf("flags %#x resHres %d", d.flags, d.resHres)
	}
}

// TestOffsetsStayPut checks that sampling noise does not move the
// realtime offset, and that setting the host's clock does.
func TestOffsetsStayPut(t *testing.T) {
	h := newSimHost()
	k, d := simKeeper(h)
	var first int64
	for i := 0; i < 50; i++ {
		if err := k.update(); err != nil {
			t.Fatal(err)
		}
		h.advance(float64(100 * time.Millisecond))
		switch {
		case i == 2:
			first = d.realOff
		case i > 2 && i < 30 && d.realOff != first:
			t.Fatalf("update %d: realtime offset moved from %d to %d without the host's clock being set", i, first, d.realOff)
		case i == 30:
			h.realOff -= 3_600_000_000_000 // settimeofday an hour back
		case i > 31 && math.Abs(float64(d.realOff-h.realOff)) > 1000:
			t.Fatalf("update %d: realtime offset %d, host's %d", i, d.realOff, h.realOff)
		}
	}
}

// TestTimeKeeperGivesUp checks that a TSC going back or ticking at an
// absurd rate turns the clock lines off (every clock call then traps),
// leaving getcpu and the resolutions in place.
func TestTimeKeeperGivesUp(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(h *simHost)
	}{
		{"backwards", func(h *simHost) { h.tscBack = true }},
		{"absurd rate", func(h *simHost) {
			// The TSC goes on from where it is, 10000 times slower.
			h.tsc0 += h.t * (h.freq - 1e-4)
			h.freq = 1e-4
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newSimHost()
			k, d := simKeeper(h)
			for i := 0; i < 5; i++ {
				if err := k.update(); err != nil {
					t.Fatal(err)
				}
				h.advance(float64(100 * time.Millisecond))
			}
			c.spoil(h)
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				err = k.update()
				h.advance(float64(100 * time.Millisecond))
			}
			if err == nil {
				t.Fatal("the time keeper kept going")
			}
			t.Logf("gave up: %v", err)
			if d.flags != vvarGetcpu || d.resHres != 1 {
				t.Errorf("flags %#x resHres %d after giving up", d.flags, d.resHres)
			}
		})
	}
}

// memFile makes a memory file of size bytes on a memfd.
func memFile(t *testing.T, size int64) *mm.MemoryFile {
	t.Helper()
	fd, err := unix.MemfdCreate("vdso-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "vdso-test")
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mf, err := mm.NewMemoryFile(f, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	return mf
}

// nopHost is a platform address space that does nothing.
type nopHost struct{}

func (nopHost) MapFile(addr, length, offset uint64, prot mm.Prot) error { return nil }
func (nopHost) Unmap(addr, length uint64) error                         { return nil }
func (nopHost) Protect(addr, length uint64, prot mm.Prot) error         { return nil }

// TestVDSOMap maps the vDSO into two address spaces and a fork: they share
// the data page (an update is seen by all), the image reads back whole,
// the workload cannot write either through the syscall layer, and a
// debugger-style write to one image stays in that address space.
func TestVDSOMap(t *testing.T) {
	const quota = 1 << 20
	mf := memFile(t, quota)
	v, err := NewVDSO(mf, VDSOConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := mm.New(mf, nopHost{}), mm.New(mf, nopHost{})
	ea, err := v.Map(a)
	if err != nil {
		t.Fatal(err)
	}
	if ea != vdsoDataAddr+VDSODataSize {
		t.Errorf("image at %#x, want %#x", ea, vdsoDataAddr+VDSODataSize)
	}
	// Something in the way: the vDSO goes elsewhere.
	if _, err := b.Map(mm.MapOpts{Addr: vdsoDataAddr, Length: arch.PageSize, Prot: mm.ProtRead, Fixed: true}); err != nil {
		t.Fatal(err)
	}
	eb, err := v.Map(b)
	if err != nil {
		t.Fatal(err)
	}
	if eb == ea {
		t.Errorf("vDSO mapped over an existing mapping at %#x", eb)
	}
	c, err := a.Fork(nopHost{})
	if err != nil {
		t.Fatal(err)
	}
	img := []byte(vdsoImage)
	for name, p := range map[string]struct {
		m    *mm.MemoryManager
		ehdr uint64
	}{"a": {a, ea}, "b": {b, eb}, "fork": {c, ea}} {
		got := make([]byte, len(img))
		if _, err := p.m.CopyIn(p.ehdr, got); err != nil || !bytes.Equal(got, img) {
			t.Errorf("%s: image reads back wrong (%v)", name, err)
		}
		d := dataOf(mf.Page(v.data))
		if d.flags != vvarGetcpu || d.resHres == 0 {
			t.Errorf("data page flags %#x resHres %d", d.flags, d.resHres)
		}
		d.cpu = 7 // as the sentry would update it
		var word [4]byte
		if _, err := p.m.CopyIn(p.ehdr-VDSODataSize+96, word[:]); err != nil || binary.LittleEndian.Uint32(word[:]) != 7 {
			t.Errorf("%s: update of the data page not seen: %v %v", name, word, err)
		}
		d.cpu = 0
		if _, err := p.m.CopyOut(p.ehdr-VDSODataSize, []byte{1}); !errors.Is(err, unix.EFAULT) {
			t.Errorf("%s: write to the data page: %v, want EFAULT", name, err)
		}
		if _, err := p.m.CopyOut(p.ehdr, []byte{1}); !errors.Is(err, unix.EFAULT) {
			t.Errorf("%s: write to the image: %v, want EFAULT", name, err)
		}
	}
	if err := c.WriteImage(ea+0x10, []byte{0xcc}); err != nil {
		t.Fatal(err)
	}
	var x [1]byte
	c.CopyIn(ea+0x10, x[:])
	if x[0] != 0xcc {
		t.Error("write to the fork's image not seen there")
	}
	a.CopyIn(ea+0x10, x[:])
	if x[0] != img[0x10] || mf.Page(v.text[0])[0x10] != img[0x10] {
		t.Error("write to the fork's image reached the shared frames")
	}
	a.Release()
	b.Release()
	c.Release()
	v.Close()
	if _, err := v.Map(mm.New(mf, nopHost{})); err == nil {
		t.Error("Map after Close succeeded")
	}
	if free := mf.FreeBytes(); free != quota {
		t.Errorf("%d bytes still allocated after everything is released", quota-free)
	}
}

// TestLoadAnnouncesVDSO loads a program with a vDSO (the image itself
// serves as an ET_DYN program) and finds AT_SYSINFO_EHDR in the auxv,
// first, pointing at the image.
func TestLoadAnnouncesVDSO(t *testing.T) {
	mf := memFile(t, 32<<20)
	v, err := NewVDSO(mf, VDSOConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m := mm.New(mf, nopHost{})
	defer m.Release()
	img, err := Load(m, bytes.NewReader([]byte(vdsoImage)), nil, Args{Filename: "/prog", Argv: []string{"prog"}, Envv: []string{"A=1"}, VDSO: v})
	if err != nil {
		t.Fatal(err)
	}
	if img.VDSO == 0 {
		t.Fatal("Image.VDSO not set")
	}
	aux := auxv(t, m, img.Stack)
	if len(aux) < 2 || aux[0] != atSysinfoEhdr || aux[1] != img.VDSO {
		t.Fatalf("auxv starts %#x, want AT_SYSINFO_EHDR %#x", aux[:min(len(aux), 2)], img.VDSO)
	}
	magic := make([]byte, 4)
	if _, err := m.CopyIn(img.VDSO, magic); err != nil || string(magic) != elf.ELFMAG {
		t.Errorf("no ELF header at AT_SYSINFO_EHDR: %q %v", magic, err)
	}
	// Without a vDSO there is no such entry.
	m2 := mm.New(mf, nopHost{})
	defer m2.Release()
	img2, err := Load(m2, bytes.NewReader([]byte(vdsoImage)), nil, Args{Filename: "/prog", Argv: []string{"prog"}})
	if err != nil {
		t.Fatal(err)
	}
	if img2.VDSO != 0 {
		t.Errorf("Image.VDSO = %#x without a vDSO", img2.VDSO)
	}
	aux = auxv(t, m2, img2.Stack)
	for i := 0; i+1 < len(aux); i += 2 {
		if aux[i] == atSysinfoEhdr {
			t.Error("AT_SYSINFO_EHDR without a vDSO")
		}
	}
}

// auxv reads the auxiliary vector of the initial stack at sp.
func auxv(t *testing.T, m *mm.MemoryManager, sp uint64) []uint64 {
	t.Helper()
	buf := make([]byte, mm.StackTop-sp)
	if _, err := m.CopyIn(sp, buf); err != nil {
		t.Fatal(err)
	}
	w := func(i int) uint64 { return binary.LittleEndian.Uint64(buf[i*8:]) }
	i := 1 + int(w(0)) + 1 // argc, argv, NULL
	for w(i) != 0 {        // envp
		i++
	}
	var aux []uint64
	for i++; ; i += 2 {
		aux = append(aux, w(i), w(i+1))
		if w(i) == atNull {
			return aux
		}
	}
}

// harness builds testdata/vdso_harness.c and writes the image next to it.
func harness(t *testing.T) (bin, image string, offs []string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	bin = filepath.Join(dir, "vdso_harness")
	if o, err := exec.Command("gcc", "-O2", "-pthread", "-o", bin, "testdata/vdso_harness.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, o)
	}
	image = filepath.Join(dir, "vdso.so")
	if err := os.WriteFile(image, []byte(vdsoImage), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader([]byte(vdsoImage)))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.DynamicSymbols()
	for _, name := range []string{"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_clock_getres", "__vdso_getcpu"} {
		for _, s := range syms {
			if s.Name == name {
				offs = append(offs, strconv.FormatUint(s.Value, 16))
			}
		}
	}
	return bin, image, offs
}

// dataFile is a page-sized file holding d, for the harness to map.
func dataFile(t *testing.T, d *vvarData) string {
	t.Helper()
	page := make([]byte, VDSODataSize)
	if d != nil {
		*dataOf(page) = *d
	}
	p := filepath.Join(t.TempDir(), "vvar")
	if err := os.WriteFile(p, page, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runHarness(t *testing.T, bin, image, data string, offs []string, mode ...string) map[string][]int64 {
	t.Helper()
	args := append(append([]string{image, data}, offs...), mode...)
	o, err := exec.Command(bin, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("harness %v: %v\n%s", mode, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	res := map[string][]int64{}
	sc := bufio.NewScanner(bytes.NewReader(o))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		key := f[0]
		vals := f[1:]
		if (key == "clock_gettime" || key == "clock_getres" || key == "clock_getres_null" || key == "clock") && len(f) > 1 {
			key += " " + f[1]
			vals = f[2:]
		}
		var nums []int64
		for _, s := range vals {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				nums = append(nums, n)
			} else if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				nums = append(nums, int64(u))
			} else if fl, err := strconv.ParseFloat(s, 64); err == nil {
				nums = append(nums, int64(fl*1000))
			}
		}
		res[key] = nums
	}
	return res
}

// TestVDSOValues runs the image's functions on data pages of known
// parameters: every clock, the rounding of gettimeofday and time, the
// resolutions, getcpu, the system call for what the page does not cover,
// and the 128-bit product of a long TSC delta.
func TestVDSOValues(t *testing.T) {
	bin, image, offs := harness(t)
	const (
		sec     int64 = 1_000_000_000
		mono          = 1000*sec + 123_456_789
		raw           = 2000*sec + 456
		realOff       = 1_700_000_000*sec + 999_999
		bootOff       = 5*sec + 1
		taiOff        = realOff + 37*sec
	)
	d := &vvarData{
		seq: 42, flags: vvarTSC | vvarGetcpu, monoBase: uint64(mono), rawBase: uint64(raw),
		realOff: realOff, bootOff: bootOff, taiOff: taiOff,
		resHres: 1, resCoarse: 4_000_000, cpu: 3, node: 1,
	}
	r := runHarness(t, bin, image, dataFile(t, d), offs, "values")
	ts := func(ns int64) []int64 { return []int64{0, ns / sec, ns % sec} }
	want := map[string][]int64{
		"clock_gettime 0":   ts(mono + realOff),
		"clock_gettime 1":   ts(mono),
		"clock_gettime 4":   ts(raw),
		"clock_gettime 5":   ts(mono + realOff),
		"clock_gettime 6":   ts(mono),
		"clock_gettime 7":   ts(mono + bootOff),
		"clock_gettime 11":  ts(mono + taiOff),
		"clock_getres 0":    {0, 0, 1},
		"clock_getres 1":    {0, 0, 1},
		"clock_getres 4":    {0, 0, 1},
		"clock_getres 5":    {0, 0, 4_000_000},
		"clock_getres 6":    {0, 0, 4_000_000},
		"clock_getres 7":    {0, 0, 1},
		"clock_getres 11":   {0, 0, 1},
		"gettimeofday":      {0, (mono + realOff) / sec, (mono + realOff) % sec / 1000, 0, 0},
		"gettimeofday_null": {0},
		"time":              {(mono + realOff) / sec, (mono + realOff) / sec},
		"time_null":         {(mono + realOff) / sec},
		"getcpu":            {0, 3, 1},
		"getcpu_null":       {0},
	}
	for _, c := range []int{0, 1, 4, 5, 6, 7, 11} {
		want[fmt.Sprintf("clock_getres_null %d", c)] = []int64{0}
	}
	for k, w := range want {
		if !reflect.DeepEqual(r[k], w) {
			t.Errorf("%s: got %v, want %v", k, r[k], w)
		}
	}
	// What the page does not cover is the host's answer (the harness runs
	// on the host): CPU-time and alarm clocks work, bad ids are EINVAL.
	for _, c := range []string{"2", "3", "8", "9", "12", "-2", "-6"} {
		if g := r["clock_gettime "+c]; len(g) != 3 || g[0] != 0 && g[0] != -int64(unix.EINVAL) {
			t.Errorf("clock_gettime %s: %v", c, g)
		}
	}
	for _, k := range []string{"clock_gettime 100", "clock_getres 100", "clock_getres_null 100"} {
		if g := r[k]; len(g) == 0 || g[0] != -int64(unix.EINVAL) {
			t.Errorf("%s: %v, want -EINVAL", k, g)
		}
	}
	if g := r["clock_gettime 2"]; len(g) != 3 || g[0] != 0 || g[1] > 100 {
		t.Errorf("CLOCK_PROCESS_CPUTIME_ID: %v", g)
	}

	// Lines with a slope: 1 ns per tick, and 768 ns per tick, whose
	// product with the TSC needs more than 64 bits.
	for _, mult := range []uint64{1 << 32, 768 << 32} {
		d := &vvarData{flags: vvarTSC, monoMult: mult, monoBase: 1000}
		r := runHarness(t, bin, image, dataFile(t, d), offs, "values")
		g := r["tsc"]
		if len(g) != 5 || g[1] != 0 {
			t.Fatalf("tsc line: %v", g)
		}
		ns := uint64(g[2])*1e9 + uint64(g[3])
		k := mult >> 32
		lo, hi := 1000+uint64(g[0])*k, 1000+uint64(g[4])*k
		if ns < lo || ns > hi {
			t.Errorf("slope %d ns/tick: clock %d outside [%d, %d]", k, ns, lo, hi)
		}
	}
}

// TestVDSOFallback checks a page of zeroes (and a page with getcpu only)
// against the host: every call becomes the real system call.
func TestVDSOFallback(t *testing.T) {
	bin, image, offs := harness(t)
	for _, d := range []*vvarData{nil, {flags: vvarGetcpu, resHres: 1}} {
		data := dataFile(t, d)
		r := runHarness(t, bin, image, data, offs, "compare", "200", "2")
		for _, c := range []int{0, 1, 4, 5, 6, 7, 11} {
			if g := r[fmt.Sprintf("clock %d", c)]; len(g) != 2 || g[0] != 0 || g[1] != 0 {
				t.Errorf("clock %d through the system call strays from the host: %v", c, g)
			}
		}
		if g := r["calls"]; len(g) != 3 || g[0] == 0 || g[1] != 0 || g[2] != 0 {
			t.Errorf("calls/back: %v", g)
		}
		v := runHarness(t, bin, image, data, offs, "values")
		if g := v["getcpu"]; len(g) != 3 || g[0] != 0 || d != nil && (g[1] != 0 || g[2] != 0) {
			t.Errorf("getcpu: %v", g)
		}
		if d == nil {
			if g := runHarness(t, bin, image, data, offs, "efault")["getcpu_efault"]; len(g) != 1 || g[0] != -int64(unix.EFAULT) {
				t.Errorf("getcpu with a bad pointer returned %v, want -EFAULT as a long", g)
			}
		}
		b := runHarness(t, bin, image, data, offs, "bench", "20000")
		t.Logf("clock_gettime through the system call: %.1f ns", float64(b["bench"][0])/1000)
	}
}

// TestVDSOLive runs the real time keeper on a shared page while harness
// threads compare the vDSO with the host's clocks: within tolerance, and
// no clock going back, within a thread or across threads, across the
// keeper's updates.
func TestVDSOLive(t *testing.T) {
	ok, why := HostTSC()
	if !ok {
		t.Skipf("host TSC unusable: %s", why)
	}
	bin, image, offs := harness(t)
	data := dataFile(t, nil)
	f, err := os.OpenFile(data, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page, err := unix.Mmap(int(f.Fd()), 0, VDSODataSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(page)
	d := dataOf(page)
	k := &timeKeeper{
		d: d, src: hostClocks{}, pub: publish, tsc: true,
		static: vvarUpdate{flags: vvarGetcpu, resHres: hostRes(unix.CLOCK_MONOTONIC), resCoarse: hostRes(unix.CLOCK_MONOTONIC_COARSE)},
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var failure error
	go func() {
		defer close(done)
		// Updates every 5 ms: many of them land during the run.
		k.run(5*time.Millisecond, stop, func(err error) { failure = err })
	}()
	defer func() {
		close(stop)
		<-done
		if failure != nil {
			t.Errorf("time keeper gave up: %v", failure)
		}
	}()
	deadline := time.Now().Add(time.Second)
	for d.flags&vvarTSC == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if d.flags&vvarTSC == 0 {
		t.Fatal("clock lines not valid after a second")
	}
	seq0 := d.seq
	r := runHarness(t, bin, image, data, offs, "compare", "1500", "3")
	t.Logf("%d updates during the run", (d.seq-seq0)/2)
	const tol = 200_000 // ns: the host may deschedule any of the readers
	for _, c := range []int{0, 1, 4, 5, 6, 7, 11} {
		g := r[fmt.Sprintf("clock %d", c)]
		if len(g) != 2 {
			t.Fatalf("clock %d: %v", c, g)
		}
		behind, ahead := g[0], g[1]
		t.Logf("clock %2d: at most %6d ns behind, %7d ns ahead of the host", c, behind, ahead)
		limit := int64(tol)
		if c == 5 || c == 6 {
			// The vDSO answers the coarse clocks with the fine ones, as
			// precise as they are; the host's lag behind by a tick or
			// more when ticks are late (under a hypervisor).
			limit = int64(100 * time.Millisecond)
		}
		if behind > tol || ahead > limit {
			t.Errorf("clock %d strays from the host: %d ns behind, %d ns ahead", c, behind, ahead)
		}
	}
	if g := r["calls"]; len(g) != 3 || g[1] != 0 || g[2] != 0 {
		t.Errorf("clocks went back: %v (calls, within a thread, across threads)", g)
	}
	b := runHarness(t, bin, image, data, offs, "bench", "2000000")
	t.Logf("clock_gettime(CLOCK_MONOTONIC) through the vDSO: %.1f ns", float64(b["bench"][0])/1000)
}

// TestVDSOSandbox runs programs under `runsc-exo do --strace`, each finding
// the vDSO its own way (glibc static, glibc through ld.so, musl, the Go
// runtime), and counts the clock system calls between their markers: the C
// programs make four on purpose, the Go program none. It skips when the
// kernel does not hand the loader a vDSO yet.
func TestVDSOSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the runtime")
	}
	if os.Geteuid() != 0 {
		t.Skip("runsc-exo needs root")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rt := filepath.Join(dir, "runsc-exo")
	if bin := os.Getenv("EXO_RUNTIME"); bin != "" {
		rt = bin
	} else {
		cmd := exec.Command("go", "build", "-o", rt, "./runsc-exo")
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./runsc-exo: %v\n%s", err, o)
		}
	}
	type prog struct {
		name  string
		build []string // the command line, "OUT" standing for the binary
		calls int      // clock system calls between the markers
	}
	progs := []prog{
		{"glibc-static", []string{"gcc", "-static", "-O1", "-o", "OUT", "testdata/vdso_prog.c"}, 4},
		{"glibc-dynamic", []string{"gcc", "-O1", "-o", "OUT", "testdata/vdso_prog.c"}, 4},
		{"musl-static", []string{"musl-gcc", "-static", "-O1", "-o", "OUT", "testdata/vdso_prog.c"}, 4},
		{"go", []string{"go", "build", "-o", "OUT", "./testdata/vdsogo"}, 0},
	}
	for _, p := range progs {
		t.Run(p.name, func(t *testing.T) {
			if _, err := exec.LookPath(p.build[0]); err != nil {
				t.Skipf("no %s", p.build[0])
			}
			bin := filepath.Join(dir, p.name)
			args := slicesReplace(p.build, "OUT", bin)
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if o, err := cmd.CombinedOutput(); err != nil {
				t.Skipf("%s: %v\n%s", strings.Join(args, " "), err, o)
			}
			var stdout, stderr bytes.Buffer
			run := exec.Command(rt, "do", "--strace", "--", bin)
			run.Stdout, run.Stderr = &stdout, &stderr
			err := run.Run()
			if strings.Contains(stdout.String(), "sysinfo_ehdr no") {
				t.Skip("the kernel does not give the loader a vDSO yet")
			}
			if err != nil || !strings.Contains(stdout.String(), "vdso: ok") {
				t.Fatalf("sandboxed %s: %v\nstdout:\n%s\nstderr:\n%s", p.name, err, stdout.String(), stderr.String())
			}
			markers, calls := 0, 0
			for _, line := range strings.Split(stderr.String(), "\n") {
				_, rest, ok := strings.Cut(line, "] ")
				if !ok {
					continue
				}
				name, _, _ := strings.Cut(rest, "(")
				switch name {
				case "getppid":
					markers++
				case "clock_gettime", "gettimeofday", "time", "getcpu":
					if markers == 1 {
						calls++
					}
				}
			}
			if markers != 2 {
				t.Fatalf("%d getppid markers in the strace, want 2\n%s", markers, stderr.String())
			}
			if calls != p.calls {
				t.Errorf("%d clock system calls between the markers, want %d: the vDSO is not used", calls, p.calls)
			}
		})
	}
}

// slicesReplace returns s with every old replaced by new.
func slicesReplace(s []string, old, new string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		if x == old {
			x = new
		}
		out[i] = x
	}
	return out
}
