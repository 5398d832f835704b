package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// System V semaphores (libos/kernel/sem.go keeps the sets).

func init() {
	register(SysSemget, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		id, err := t.K.Sem().Get(t, int32(a[0]), intArg(a[1]), intArg(a[2]))
		return uint64(id), err
	})
	register(SysSemop, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return semtimedop(t, int32(a[0]), a[1], a[2], 0)
	})
	register(SysSemtimedop, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return semtimedop(t, int32(a[0]), a[1], a[2], a[3])
	})
	register(SysSemctl, sysSemctl)
}

// sembufSize is sizeof(struct sembuf).
const sembufSize = 6

func semtimedop(t *kernel.Task, id int32, opsAddr, nops, timeoutAddr uint64) (uint64, error) {
	if nops == 0 || id < 0 {
		return 0, unix.EINVAL
	}
	if nops > kernel.SemOPM {
		return 0, unix.E2BIG
	}
	b := make([]byte, nops*sembufSize)
	if _, err := t.MM.CopyIn(opsAddr, b); err != nil {
		return 0, unix.EFAULT
	}
	ops := make([]kernel.SemOp, nops)
	for i := range ops {
		o := b[i*sembufSize:]
		ops[i] = kernel.SemOp{Num: binary.LittleEndian.Uint16(o), Op: int16(binary.LittleEndian.Uint16(o[2:])), Flags: int16(binary.LittleEndian.Uint16(o[4:]))}
	}
	var deadline time.Time
	if timeoutAddr != 0 {
		to, err := copyInTimespec(t, timeoutAddr)
		if err != nil {
			return 0, err
		}
		if to.zero {
			deadline = time.Now()
		} else {
			deadline = to.deadline
		}
	}
	return 0, t.K.Sem().Op(t, id, ops, deadline)
}

// semctl's commands beyond the IPC_* ones shmctl shares.
const (
	semGetPID   = 11
	semGetVal   = 12
	semGetAll   = 13
	semGetNCnt  = 14
	semGetZCnt  = 15
	semSetVal   = 16
	semSetAll   = 17
	semStat     = 18
	semInfo     = 19
	semStatAny  = 20
	semidDsSize = 104
)

func sysSemctl(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, num, cmd, arg := int32(a[0]), intArg(a[1]), intArg(a[2])&^ipc64, a[3]
	r := t.K.Sem()
	le := binary.LittleEndian
	value := func(what kernel.SemValue) (uint64, error) {
		v, err := r.Value(t, id, num, what)
		return uint64(v), err
	}
	switch cmd {
	case ipcRmid:
		return 0, r.Remove(t, id)
	case ipcSet:
		uid, gid, mode, err := copyInIPCSet(t, arg)
		if err != nil {
			return 0, err
		}
		return 0, r.Set(t, id, uid, gid, mode)
	case ipcStat, semStat, semStatAny:
		st, err := r.Stat(t, id, cmd != ipcStat, cmd == semStatAny)
		if err != nil {
			return 0, err
		}
		b := make([]byte, semidDsSize)
		putIPCPerm(b, st.IPCPerm)
		putIPCTime(b[48:], st.OTime)
		putIPCTime(b[64:], st.CTime)
		le.PutUint64(b[80:], uint64(st.NSems))
		if _, err := t.MM.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		if cmd == ipcStat {
			return 0, nil
		}
		return uint64(st.ID), nil
	case ipcInfo, semInfo:
		highest, sets, sems := r.Info()
		info := []int32{kernel.SemMNS, kernel.SemMNI, kernel.SemMNS, kernel.SemMNS, kernel.SemMSL,
			kernel.SemOPM, kernel.SemOPM, 20, kernel.SemVMX, kernel.SemAEM}
		if cmd == semInfo {
			// semusz and semaem carry the sets and semaphores in use.
			info[7], info[9] = int32(sets), int32(sems)
		}
		b := make([]byte, 4*len(info))
		for i, v := range info {
			le.PutUint32(b[4*i:], uint32(v))
		}
		if _, err := t.MM.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return uint64(highest), nil
	case semGetVal:
		return value(kernel.SemVal)
	case semGetPID:
		return value(kernel.SemPID)
	case semGetNCnt:
		return value(kernel.SemNCnt)
	case semGetZCnt:
		return value(kernel.SemZCnt)
	case semGetAll:
		vals, err := r.Values(t, id)
		if err != nil {
			return 0, err
		}
		b := make([]byte, 2*len(vals))
		for i, v := range vals {
			le.PutUint16(b[2*i:], v)
		}
		if _, err := t.MM.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case semSetVal:
		if num < 0 {
			return 0, unix.EINVAL
		}
		// The union's int, in the low half of the register.
		return 0, r.SetValues(t, id, num, []int{int(int32(arg))})
	case semSetAll:
		n := r.NSems(id)
		if n == 0 {
			return 0, unix.EINVAL
		}
		b := make([]byte, 2*n)
		if _, err := t.MM.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		vals := make([]int, n)
		for i := range vals {
			vals[i] = int(le.Uint16(b[2*i:]))
		}
		return 0, r.SetValues(t, id, -1, vals)
	}
	return 0, unix.EINVAL
}
