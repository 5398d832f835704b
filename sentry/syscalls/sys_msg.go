package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
)

// System V message queues (libos/kernel/msg.go keeps the queues).

func init() {
	register(SysMsgget, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		id, err := t.K.Msg().Get(t, int32(a[0]), intArg(a[1]))
		return uint64(id), err
	})
	register(SysMsgsnd, sysMsgsnd)
	register(SysMsgrcv, sysMsgrcv)
	register(SysMsgctl, sysMsgctl)
}

func sysMsgsnd(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, addr, size, flags := int32(a[0]), a[1], int64(a[2]), intArg(a[3])
	if size < 0 || size > kernel.MsgMax {
		return 0, unix.EINVAL
	}
	if id < 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, 8+size)
	if _, err := t.MM.CopyIn(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, t.K.Msg().Send(t, id, int64(binary.LittleEndian.Uint64(b)), b[8:], flags)
}

func sysMsgrcv(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, addr, size, msgtyp, flags := int32(a[0]), a[1], int64(a[2]), int64(a[3]), intArg(a[4])
	if size < 0 || id < 0 {
		return 0, unix.EINVAL
	}
	if t.MM.Accessible(addr, 8, mm.ProtWrite) < 8 {
		return 0, unix.EFAULT
	}
	mtype, data, err := t.K.Msg().Receive(t, id, int(min(size, kernel.MsgMax*1024)), msgtyp, flags)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 8+len(data))
	binary.LittleEndian.PutUint64(b, uint64(mtype))
	copy(b[8:], data)
	if _, err := t.MM.CopyOut(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(data)), nil
}

// msgctl's commands beyond the IPC_* ones.
const (
	msgStat     = 11
	msgInfo     = 12
	msgStatAny  = 13
	msqidDsSize = 120
)

func sysMsgctl(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, cmd, buf := int32(a[0]), intArg(a[1])&^ipc64, a[2]
	r := t.K.Msg()
	le := binary.LittleEndian
	switch cmd {
	case ipcRmid:
		return 0, r.Remove(t, id)
	case ipcSet:
		uid, gid, mode, err := copyInIPCSet(t, buf)
		if err != nil {
			return 0, err
		}
		var q [8]byte
		if _, err := t.MM.CopyIn(buf+88, q[:]); err != nil {
			return 0, unix.EFAULT
		}
		qbytes := le.Uint64(q[:])
		if qbytes > 1<<31-1 {
			return 0, unix.EINVAL
		}
		return 0, r.Set(t, id, uid, gid, mode, int(qbytes))
	case ipcStat, msgStat, msgStatAny:
		st, err := r.Stat(t, id, cmd != ipcStat, cmd == msgStatAny)
		if err != nil {
			return 0, err
		}
		b := make([]byte, msqidDsSize)
		putIPCPerm(b, st.IPCPerm)
		putIPCTime(b[48:], st.STime)
		putIPCTime(b[56:], st.RTime)
		putIPCTime(b[64:], st.CTime)
		le.PutUint64(b[72:], uint64(st.Bytes))
		le.PutUint64(b[80:], uint64(st.QNum))
		le.PutUint64(b[88:], uint64(st.QBytes))
		le.PutUint32(b[96:], uint32(st.LSPID))
		le.PutUint32(b[100:], uint32(st.LRPID))
		if _, err := t.MM.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		if cmd == ipcStat {
			return 0, nil
		}
		return uint64(st.ID), nil
	case ipcInfo, msgInfo:
		highest, queues, msgs, bytes := r.Info()
		// struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni,
		// msgssz, msgtql (ints), msgseg (unsigned short).
		info := []int32{kernel.MsgMNI * kernel.MsgMNB / 1024, kernel.MsgMNB, kernel.MsgMax, kernel.MsgMNB,
			kernel.MsgMNI, 16, kernel.MsgMNB}
		if cmd == msgInfo {
			info[0], info[1], info[6] = int32(queues), int32(msgs), int32(bytes)
		}
		b := make([]byte, 32)
		for i, v := range info {
			le.PutUint32(b[4*i:], uint32(v))
		}
		le.PutUint16(b[28:], 0xffff)
		if _, err := t.MM.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		return uint64(highest), nil
	}
	return 0, unix.EINVAL
}
