package loader

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Time keeping for the vDSO. The library OS serves the clock system calls
// from the host's clocks, so the vDSO's clocks follow the host's too: the
// time keeper samples the host's CLOCK_MONOTONIC and CLOCK_MONOTONIC_RAW
// against the TSC every interval, estimates each clock's rate in
// nanoseconds per tick, and steers the data page's lines towards them.
//
// It never moves a line back. The line's slope is the measured rate,
// corrected so that the error seen at this update (host minus line) is
// worked off over servoHorizon; an error beyond stepLimit with the line
// behind is removed at once by a step forward, and the rate is measured
// afresh from there. A line ahead of the host only slows down (to half
// speed at most) until the host catches up; one more than maxAhead ahead
// makes the time keeper give up on the TSC, as does a TSC that goes back
// or ticks at an implausible rate: the clocks are then system calls.
//
// The offsets of CLOCK_REALTIME and CLOCK_BOOTTIME from CLOCK_MONOTONIC
// change only when the host's clock is set or resumes from suspend, so
// they are measured as intervals and changed only when the current value
// falls outside the new interval; that way the realtime line does not
// jitter with the sampling noise.
const (
	// servoHorizon is how long a line takes to work off an error.
	servoHorizon = 300 * time.Millisecond
	// stepLimit is the error beyond which a line behind the host jumps.
	stepLimit = time.Millisecond
	// maxAhead is how far a line may be ahead of the host before the
	// time keeper gives up on the TSC rather than slow the line down for
	// longer than that.
	maxAhead = 100 * time.Millisecond
	// rateWindow is how many samples back the rate is measured over.
	rateWindow = 8
	// pairTries is how many clock/TSC/clock readings a sample takes the
	// narrowest of.
	pairTries = 5
	// offsetSlack is how far outside a measured interval an offset may be
	// before it is taken to have changed.
	offsetSlack = time.Microsecond
)

// TSC rates the time keeper believes: 100 MHz to 20 GHz.
const (
	minNsPerTick = 0.05
	maxNsPerTick = 10
)

// startDelays are the first intervals after boot, so the lines are valid
// soon and their rate is measured over longer and longer spans.
var startDelays = []time.Duration{10 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond}

// clockSource is the host as the time keeper sees it; tests fake it.
type clockSource interface {
	// now reads a host clock in nanoseconds.
	now(clock int32) (int64, error)
	// tsc reads the TSC.
	tsc() uint64
}

// hostClocks reads the host's clocks with system calls (the sentry has no
// vDSO-independent way that is cheaper and exact) and the real TSC.
type hostClocks struct{}

func (hostClocks) now(clock int32) (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}

func (hostClocks) tsc() uint64 { return rdtscOrdered() }

// sample is one reading of a host clock at a TSC value.
type sample struct {
	tsc uint64
	ns  int64
}

// lineServo is the recent history of one host clock against the TSC.
type lineServo struct {
	hist []sample // oldest first, at most rateWindow
}

// add records a sample; the TSC must have advanced since the last one.
func (s *lineServo) add(x sample) error {
	if n := len(s.hist); n > 0 && x.tsc <= s.hist[n-1].tsc {
		return fmt.Errorf("the TSC went back or stood still (%d after %d)", x.tsc, s.hist[n-1].tsc)
	}
	if len(s.hist) == rateWindow {
		s.hist = append(s.hist[:0], s.hist[1:]...)
	}
	s.hist = append(s.hist, x)
	return nil
}

// rate is the clock's nanoseconds per tick over the history, as a line
// slope (<< multShift); ok is false until two samples exist.
func (s *lineServo) rate() (mult uint64, ok bool, err error) {
	n := len(s.hist)
	if n < 2 {
		return 0, false, nil
	}
	a, b := s.hist[0], s.hist[n-1]
	r := float64(b.ns-a.ns) / float64(b.tsc-a.tsc)
	if !(r >= minNsPerTick && r <= maxNsPerTick) {
		return 0, false, fmt.Errorf("implausible TSC rate: %g ns per tick", r)
	}
	return uint64(r * (1 << multShift)), true, nil
}

// next records sample x and computes the line's update; its mult is 0
// while the rate is not known yet.
func (s *lineServo) next(x sample, valid bool, tscBase, base, mult uint64) (lineUpdate, error) {
	if err := s.add(x); err != nil {
		return lineUpdate{}, err
	}
	rate, ok, err := s.rate()
	if err != nil {
		return lineUpdate{}, err
	}
	if !ok {
		if !valid {
			return lineUpdate{}, nil
		}
		// Just after a step: keep the slope until there are two
		// samples again.
		rate = mult
	}
	u, err := steer(rate, x, valid, tscBase, base, mult)
	if err == nil && u.step && valid {
		// The host's clock jumped: the rate measured across the jump is
		// wrong, so keep the slope, and measure afresh from here.
		u.mult, u.refMult = mult, mult
		s.hist = append(s.hist[:0], x)
	}
	return u, err
}

// steer computes a line's update from the host's rate (a slope), the
// latest sample and the line's current course (valid false if it has
// none). It fails when the line is so far ahead of the host that slowing
// down would take too long: the host's clock stood still while the TSC
// ran on.
func steer(rate uint64, x sample, valid bool, tscBase, base, mult uint64) (lineUpdate, error) {
	if !valid || x.ns < 0 {
		return lineUpdate{mult: rate, step: true, refTSC: x.tsc, refNs: uint64(max(x.ns, 0))}, nil
	}
	e := x.ns - int64(lineAt(x.tsc, tscBase, base, mult))
	if time.Duration(e) > stepLimit {
		return lineUpdate{mult: rate, step: true, refTSC: x.tsc, refNs: uint64(x.ns)}, nil
	}
	if time.Duration(-e) > maxAhead {
		return lineUpdate{}, fmt.Errorf("the host's clock fell %v behind the TSC", time.Duration(-e))
	}
	f := 1 + float64(e)/float64(servoHorizon)
	f = min(max(f, 0.5), 1+float64(stepLimit)/float64(servoHorizon))
	return lineUpdate{mult: uint64(float64(rate) * f)}, nil
}

// offsetEstimate is a clock's offset from CLOCK_MONOTONIC.
type offsetEstimate struct {
	val   int64
	valid bool
}

// update takes a measurement: the offset lies in [lo, hi].
func (o *offsetEstimate) update(lo, hi int64) {
	s := int64(offsetSlack)
	if !o.valid || o.val < lo-s || o.val > hi+s {
		o.val, o.valid = lo+(hi-lo)/2, true
	}
}

// timeKeeper keeps one data page on the host's clocks.
type timeKeeper struct {
	d   *vvarData
	src clockSource
	// pub writes an update; publish, or a stand-in for tests with a fake
	// TSC.
	pub func(*vvarData, *vvarUpdate) uint64

	// static holds what does not change: clock resolutions, getcpu.
	static vvarUpdate
	// tsc is whether the lines are kept; it goes false for good when the
	// TSC misbehaves.
	tsc        bool
	mono, raw  lineServo
	real, boot offsetEstimate
	taiSec     int64
}

// pair reads clock, the TSC, and clock again, pairTries times, and returns
// the TSC reading with the clock's midpoint of the narrowest try.
func (k *timeKeeper) pair(clock int32) (sample, error) {
	best, width := sample{}, int64(math.MaxInt64)
	for range pairTries {
		a, err := k.src.now(clock)
		if err != nil {
			return sample{}, err
		}
		t := k.src.tsc()
		b, err := k.src.now(clock)
		if err != nil {
			return sample{}, err
		}
		if b >= a && b-a < width {
			width = b - a
			best = sample{tsc: t, ns: a + (b-a)/2}
		}
	}
	if width == math.MaxInt64 {
		return sample{}, fmt.Errorf("clock %d went back", clock)
	}
	return best, nil
}

// offset measures clock minus CLOCK_MONOTONIC as an interval.
func (k *timeKeeper) offset(clock int32) (lo, hi int64, err error) {
	width := int64(math.MaxInt64)
	for range pairTries {
		a, err := k.src.now(unix.CLOCK_MONOTONIC)
		if err != nil {
			return 0, 0, err
		}
		x, err := k.src.now(clock)
		if err != nil {
			return 0, 0, err
		}
		b, err := k.src.now(unix.CLOCK_MONOTONIC)
		if err != nil {
			return 0, 0, err
		}
		if b >= a && b-a < width {
			width, lo, hi = b-a, x-b, x-a
		}
	}
	if width == math.MaxInt64 {
		return 0, 0, errors.New("CLOCK_MONOTONIC went back")
	}
	return lo, hi, nil
}

// update takes this interval's measurements and publishes them. It
// returns an error, after publishing a page without clock lines, when the
// TSC cannot be used any more.
func (k *timeKeeper) update() error {
	u := k.static
	var err error
	if k.tsc {
		if err = k.track(&u); err != nil {
			k.tsc = false
			u = k.static
		}
	}
	k.pub(k.d, &u)
	return err
}

// track fills in the clock lines and offsets of u, and sets vvarTSC once
// the lines are known.
func (k *timeKeeper) track(u *vvarUpdate) error {
	m, err := k.pair(unix.CLOCK_MONOTONIC)
	if err != nil {
		return err
	}
	r, err := k.pair(unix.CLOCK_MONOTONIC_RAW)
	if err != nil {
		return err
	}
	for _, o := range []struct {
		clock int32
		est   *offsetEstimate
	}{{unix.CLOCK_REALTIME, &k.real}, {unix.CLOCK_BOOTTIME, &k.boot}} {
		lo, hi, err := k.offset(o.clock)
		if err != nil {
			return err
		}
		o.est.update(lo, hi)
	}
	// TAI differs from UTC by whole seconds (adjtimex's tai offset).
	real, err := k.src.now(unix.CLOCK_REALTIME)
	if err != nil {
		return err
	}
	tai, err := k.src.now(unix.CLOCK_TAI)
	if err != nil {
		return err
	}
	k.taiSec = int64(math.Round(float64(tai-real) / 1e9))

	d := k.d
	valid := d.flags&vvarTSC != 0
	var err1, err2 error
	u.mono, err1 = k.mono.next(m, valid, d.tscBase, d.monoBase, d.monoMult)
	u.raw, err2 = k.raw.next(r, valid, d.tscBase, d.rawBase, d.rawMult)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if u.mono.mult == 0 || u.raw.mult == 0 {
		return nil // not measured yet
	}
	u.realOff = k.real.val
	u.bootOff = k.boot.val
	u.taiOff = k.real.val + k.taiSec*1e9
	u.flags |= vvarTSC
	return nil
}

// run updates the page until stop is closed, first after startDelays,
// then every interval.
func (k *timeKeeper) run(interval time.Duration, stop <-chan struct{}, failed func(error)) {
	delays := startDelays
	for {
		if err := k.update(); err != nil {
			failed(err)
			return
		}
		d := interval
		if len(delays) > 0 {
			d, delays = delays[0], delays[1:]
		}
		t := time.NewTimer(d)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}
