package loader

//go:generate go run ../../tools/genvdso -src vdso -out vdso_image.go

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
)

// The library OS's own vDSO.
//
// Every process of a sandbox gets two things mapped next to each other:
// the data page ("vvar", read-only to the workload) and right above it the
// vDSO image (vdso/vdso.c, built by tools/genvdso into vdsoImage), whose
// address is AT_SYSINFO_EHDR. glibc, musl and the Go runtime find
// __vdso_clock_gettime, __vdso_gettimeofday, __vdso_time,
// __vdso_clock_getres and __vdso_getcpu there (version LINUX_2.6) and call
// them instead of making the system call, which on the library OS is a
// trap costing microseconds.
//
// Both are backed by frames the VDSO holds, shared by every address space
// of the sandbox: the sentry updates the one data page in place, and each
// process sees the update. The mappings are private, so a process that
// writes to them (after mprotect) gets a copy of its own and cannot
// disturb the others.
//
// The functions compute time from the TSC with the parameters of the data
// page, which a time keeper goroutine keeps on the host's clocks (see
// vdso_clock.go). When the host's TSC is not fit for it, the page says so
// and the functions make the real system call instead: slower, still
// correct. getcpu reports CPU 0 on node 0.

// VDSODataSize is the size of the data page mapped below the image.
const VDSODataSize = arch.PageSize

// vdsoDataAddr is where Map puts the data page when it is free: right
// above the initial stack, the image right above that, out of the way of
// mmap's top-down placement below mm.MmapTop.
const vdsoDataAddr = mm.StackTop

// DefaultVDSOInterval is how often the time keeper steers the clocks.
const DefaultVDSOInterval = 100 * time.Millisecond

// VDSOConfig says how the vDSO keeps time.
type VDSOConfig struct {
	// TSC allows the clocks to be computed from the TSC; HostTSC says
	// whether the host's is fit for it. Without it every clock call is
	// a system call.
	TSC bool
	// Interval is how often the clocks are steered; 0 means
	// DefaultVDSOInterval.
	Interval time.Duration
	// Log receives the reason if the time keeper gives up on the TSC;
	// nil means slog.Default().
	Log *slog.Logger
}

// VDSO is a sandbox's vDSO: the frames of its image and data page, and the
// time keeper updating the data page.
type VDSO struct {
	mf   *mm.MemoryFile
	data uint64   // frame of the data page
	text []uint64 // frames of the image

	keeper *timeKeeper
	stop   chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	closed bool
	tscOn  bool
}

// NewVDSO allocates the vDSO's frames from mf, writes the image, fills the
// data page and, if c.TSC, starts the time keeper. The clocks are served
// by system calls until the keeper has measured the TSC's rate, a few
// tens of milliseconds after this returns.
func NewVDSO(mf *mm.MemoryFile, c VDSOConfig) (*VDSO, error) {
	img := []byte(vdsoImage)
	pages := (len(img) + arch.PageSize - 1) / arch.PageSize
	frames, err := mf.Allocate(1 + pages)
	if err != nil {
		return nil, fmt.Errorf("allocate vDSO: %w", err)
	}
	v := &VDSO{mf: mf, data: frames[0], text: frames[1:], stop: make(chan struct{}), done: make(chan struct{})}
	for i, f := range v.text {
		copy(mf.Page(f), img[i*arch.PageSize:])
	}
	k := &timeKeeper{
		d:      dataOf(mf.Page(v.data)),
		src:    hostClocks{},
		pub:    publish,
		static: vvarUpdate{flags: vvarGetcpu, resHres: hostRes(unix.CLOCK_MONOTONIC), resCoarse: hostRes(unix.CLOCK_MONOTONIC_COARSE)},
		tsc:    c.TSC && tscSupported,
	}
	v.keeper = k
	if !k.tsc {
		k.update()
		close(v.done)
		return v, nil
	}
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultVDSOInterval
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	v.tscOn = true
	go func() {
		defer close(v.done)
		k.run(interval, v.stop, func(err error) {
			v.mu.Lock()
			v.tscOn = false
			v.mu.Unlock()
			log.Warn("vDSO: clocks fall back to system calls", "reason", err)
		})
	}()
	return v, nil
}

// hostRes is the host's resolution of clock in nanoseconds, 0 (leave it
// to the system call) if the host does not say.
func hostRes(clock int32) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGetres(clock, &ts); err != nil || ts.Nano() <= 0 {
		return 0
	}
	return uint64(ts.Nano())
}

// TSC reports whether the time keeper is still steering the clocks from
// the TSC (it stops for good when the TSC misbehaves).
func (v *VDSO) TSC() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tscOn && !v.closed
}

// Map maps the data page and the image into m, at vdsoDataAddr if that
// range is free and wherever mmap would put it otherwise, and returns the
// image's address: the value of AT_SYSINFO_EHDR.
func (v *VDSO) Map(m *mm.MemoryManager) (uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0, errors.New("vDSO is closed")
	}
	total := VDSODataSize + uint64(len(v.text))*arch.PageSize
	// Reserve the range first (no memory, no quota) to learn where it
	// fits, then map the frames over the reservation.
	addr, err := m.Map(mm.MapOpts{Addr: vdsoDataAddr, Length: total, NoReplace: true})
	if errors.Is(err, unix.EEXIST) {
		addr, err = m.Map(mm.MapOpts{Length: total})
	}
	if err != nil {
		return 0, fmt.Errorf("reserve vDSO: %w", err)
	}
	if err := m.MapFrames(addr, []uint64{v.data}, mm.ProtRead, false); err != nil {
		m.Unmap(addr, total)
		return 0, fmt.Errorf("map vDSO data page: %w", err)
	}
	text := addr + VDSODataSize
	if err := m.MapFrames(text, v.text, mm.ProtRead|mm.ProtExec, false); err != nil {
		m.Unmap(addr, total)
		return 0, fmt.Errorf("map vDSO image: %w", err)
	}
	return text, nil
}

// Close stops the time keeper (the clocks then keep their last course) and
// drops the VDSO's own references to its frames; address spaces that map
// them keep theirs. Map fails afterwards.
func (v *VDSO) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.mu.Unlock()
	close(v.stop)
	<-v.done
	v.mf.DecRef(append([]uint64{v.data}, v.text...))
}

// VDSOImage returns a copy of the vDSO's ELF image.
func VDSOImage() []byte { return []byte(vdsoImage) }

// HostTSC reports whether the host's TSC can serve as the vDSO's clock:
// it must tick at a constant rate in every CPU power state
// (constant_tsc, nonstop_tsc) and the host kernel must not have given up
// on it as a clock source. It reads /proc and /sys, so the sentry calls it
// before it confines itself. why explains a false answer.
func HostTSC() (ok bool, why string) {
	if !tscSupported {
		return false, "no TSC on this architecture"
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false, err.Error()
	}
	var flags []string
	for _, line := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			flags = strings.Fields(v)
			break
		}
	}
	for _, want := range []string{"tsc", "constant_tsc", "nonstop_tsc"} {
		if !slices.Contains(flags, want) {
			return false, "the CPU lacks " + want
		}
	}
	const cs = "/sys/devices/system/clocksource/clocksource0/"
	cur, err1 := os.ReadFile(cs + "current_clocksource")
	avail, err2 := os.ReadFile(cs + "available_clocksource")
	if err1 != nil && err2 != nil {
		// No sysfs to ask: trust the CPU flags; the time keeper still
		// checks the TSC's rate as it goes.
		return true, ""
	}
	if string(bytes.TrimSpace(cur)) != "tsc" && !slices.Contains(strings.Fields(string(avail)), "tsc") {
		return false, "the host kernel does not offer the TSC as a clock source (current: " + string(bytes.TrimSpace(cur)) + ")"
	}
	return true, ""
}
