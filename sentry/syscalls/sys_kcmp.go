package syscalls

import "exokernelul.dev/exo/libos/kernel"

func init() {
	register(SysKcmp, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		r, err := t.Kcmp(int32(a[0]), int32(a[1]), intArg(a[2]), a[3], a[4])
		return uint64(r), err
	})
}
