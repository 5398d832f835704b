package loader

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// vvarData is the vDSO's data page as struct vvar_data in vdso/vdso.c
// lays it out; both sides check the field offsets. The sentry writes it
// through the memory file's view; the workload only reads it.
//
// Both clock lines are anchored at one TSC value: CLOCK_MONOTONIC is
// monoBase + (tsc - tscBase) * monoMult / 2^32 nanoseconds, and the same
// for CLOCK_MONOTONIC_RAW with raw*; CLOCK_REALTIME, CLOCK_BOOTTIME and
// CLOCK_TAI add their offset to CLOCK_MONOTONIC, the coarse clocks read
// as the fine ones.
//
// seq is a sequence counter: odd while publish rewrites the page. Readers
// retry when it is odd or changed under them.
type vvarData struct {
	seq       uint64
	flags     uint64
	tscBase   uint64
	monoBase  uint64
	monoMult  uint64
	rawBase   uint64
	rawMult   uint64
	realOff   int64
	bootOff   int64
	taiOff    int64
	resHres   uint64
	resCoarse uint64
	cpu       uint32
	node      uint32
}

// Bits of vvarData.flags; a page of zeroes sends every call to the
// library OS as a system call.
const (
	// vvarTSC says the clock lines are valid.
	vvarTSC = 1 << 0
	// vvarGetcpu says cpu and node are valid.
	vvarGetcpu = 1 << 1
)

// multShift is the fixed-point position of the lines' slopes.
const multShift = 32

// vvarOffsets are the offsets vdso.c asserts for its struct, in field
// order; a test holds vvarData to them.
var vvarOffsets = [...]uintptr{0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 100}

// dataOf is the data page in the sentry's view of its frame.
func dataOf(page []byte) *vvarData {
	if len(page) < int(unsafe.Sizeof(vvarData{})) {
		panic("vDSO data page too small")
	}
	return (*vvarData)(unsafe.Pointer(&page[0]))
}

// lineAt evaluates a clock line at tsc: base + (tsc - tscBase) * mult /
// 2^32, staying at base for a tsc before tscBase, as vdso.c does.
//
//go:nosplit
func lineAt(tsc, tscBase, base, mult uint64) uint64 {
	if tsc <= tscBase {
		return base
	}
	hi, lo := bits.Mul64(tsc-tscBase, mult)
	return base + (hi<<(64-multShift) | lo>>multShift)
}

// lineUpdate is the new slope of one clock line. When step is set, the
// line may also jump forward (never back) to the host clock's estimated
// course, refNs at refTSC going at refMult.
type lineUpdate struct {
	mult   uint64
	step   bool
	refTSC uint64
	refNs  uint64
	// refMult is the slope of the estimate; 0 means mult.
	refMult uint64
}

// vvarUpdate is everything one publish changes.
type vvarUpdate struct {
	flags                    uint64
	mono, raw                lineUpdate
	realOff, bootOff, taiOff int64
	resHres, resCoarse       uint64
	cpu, node                uint32
}

// publish writes u into d with readers held off by an odd sequence
// number, anchoring both lines at the TSC value it reads after readers
// can see that, and returns that value.
//
// A line keeps its value at the anchor (or jumps forward, for a step) and
// only its slope changes, so no reader can see a clock go back: a reader
// that finished with the old values read the TSC before the anchor, and
// one that uses the new values reads it after.
//
// It is nosplit and calls nothing but rdtscOrdered (assembly): the Go
// scheduler cannot preempt it between the two sequence updates, so
// readers only wait while the host deschedules the thread.
//
//go:nosplit
func publish(d *vvarData, u *vvarUpdate) uint64 {
	atomic.AddUint64(&d.seq, 1)
	tsc := rdtscOrdered()
	apply(d, u, tsc)
	atomic.AddUint64(&d.seq, 1)
	return tsc
}

// apply is publish's work between the sequence updates, with the anchor
// TSC value given.
//
//go:nosplit
func apply(d *vvarData, u *vvarUpdate, tsc uint64) {
	mono := lineAt(tsc, d.tscBase, d.monoBase, d.monoMult)
	raw := lineAt(tsc, d.tscBase, d.rawBase, d.rawMult)
	if d.flags&vvarTSC == 0 {
		// No valid line yet (or any more): nothing to stay continuous
		// with.
		mono, raw = 0, 0
	}
	mono = stepped(mono, tsc, &u.mono)
	raw = stepped(raw, tsc, &u.raw)
	atomic.StoreUint64(&d.tscBase, tsc)
	atomic.StoreUint64(&d.monoBase, mono)
	atomic.StoreUint64(&d.monoMult, u.mono.mult)
	atomic.StoreUint64(&d.rawBase, raw)
	atomic.StoreUint64(&d.rawMult, u.raw.mult)
	atomic.StoreInt64(&d.realOff, u.realOff)
	atomic.StoreInt64(&d.bootOff, u.bootOff)
	atomic.StoreInt64(&d.taiOff, u.taiOff)
	atomic.StoreUint64(&d.resHres, u.resHres)
	atomic.StoreUint64(&d.resCoarse, u.resCoarse)
	atomic.StoreUint32(&d.cpu, u.cpu)
	atomic.StoreUint32(&d.node, u.node)
	atomic.StoreUint64(&d.flags, u.flags)
}

// stepped is the line's new value at tsc: cur, or the estimate if a step
// is asked for and the estimate is ahead.
//
//go:nosplit
func stepped(cur, tsc uint64, l *lineUpdate) uint64 {
	if !l.step {
		return cur
	}
	m := l.refMult
	if m == 0 {
		m = l.mult
	}
	return max(cur, lineAt(tsc, l.refTSC, l.refNs, m))
}
