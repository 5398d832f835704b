package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// System V message queues (msgget, msgsnd, msgrcv, msgctl): typed
// messages queued by key in the sandbox's one IPC namespace. A sender
// waits while the queue is full, a receiver while no message matches;
// every change wakes the waiters of the queue, which try again.

// Limits Linux reports by default (include/uapi/linux/msg.h).
const (
	MsgMax = 8192  // largest message
	MsgMNB = 16384 // default bytes per queue
	MsgMNI = 32000 // queues
)

// msgMessage is one queued message.
type msgMessage struct {
	mtype int64
	data  []byte
}

// MsgQueue is one queue; guarded by the registry's lock.
type MsgQueue struct {
	IPCPerm
	ID                  int32
	msgs                []msgMessage
	bytes               int
	QBytes              int
	STime, RTime, CTime time.Time
	LSPID, LRPID        int32
	removed             bool
	changed             chan struct{}
}

// MsgRegistry is the sandbox's message queues.
type MsgRegistry struct {
	mu     sync.Mutex
	queues map[int32]*MsgQueue
	seq    uint16
}

// Msg returns the kernel's message queue registry.
func (k *Kernel) Msg() *MsgRegistry {
	k.msgOnce.Do(func() { k.msg = &MsgRegistry{queues: make(map[int32]*MsgQueue)} })
	return k.msg
}

func (q *MsgQueue) changedLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Get is msgget.
func (r *MsgRegistry) Get(t *Task, key int32, flags int) (int32, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, found, err := ipcLookup(r.queues, key, flags, &creds, nil); found {
		return id, err
	}
	if len(r.queues) >= MsgMNI {
		return 0, unix.ENOSPC
	}
	r.seq++
	q := &MsgQueue{
		IPCPerm: newIPCPerm(&creds, key, flags, r.seq), ID: ipcNewID(r.queues, r.seq),
		QBytes: MsgMNB, CTime: time.Now(), changed: make(chan struct{}),
	}
	r.queues[q.ID] = q
	return q.ID, nil
}

// msg's flags.
const (
	msgNoerror = 0o10000
	msgExcept  = 0o20000
	msgCopy    = 0o40000
)

// waitLocked waits, with r.mu released, for queue q to change: EIDRM if
// it was removed meanwhile; on a signal ERESTARTNOHAND, as Linux: the
// call starts again if no handler ran, and fails with EINTR if one did,
// whatever its SA_RESTART.
func (r *MsgRegistry) waitLocked(t *Task, q *MsgQueue) error {
	ch := q.changed
	r.mu.Unlock()
	err := t.Block(ch, time.Time{})
	r.mu.Lock()
	switch {
	case q.removed:
		return unix.EIDRM
	case err != nil:
		return ERestartNoHand
	}
	return nil
}

// Send is msgsnd: a message of type mtype, waiting for room unless
// IPC_NOWAIT.
func (r *MsgRegistry) Send(t *Task, id int32, mtype int64, data []byte, flags int) error {
	creds := t.Creds()
	if mtype < 1 || len(data) > MsgMax {
		return unix.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[id]
	if !ok {
		return unix.EINVAL
	}
	if !q.access(&creds, 2) {
		return unix.EACCES
	}
	for q.bytes+len(data) > q.QBytes || len(q.msgs)+1 > q.QBytes {
		if flags&unix.IPC_NOWAIT != 0 {
			return unix.EAGAIN
		}
		if err := r.waitLocked(t, q); err != nil {
			return err
		}
	}
	q.msgs = append(q.msgs, msgMessage{mtype: mtype, data: data})
	q.bytes += len(data)
	q.LSPID, q.STime = t.TGID(), time.Now()
	q.changedLocked()
	return nil
}

// matchLocked is the index of the message msgrcv's msgtyp and flags
// select, or -1.
func (q *MsgQueue) matchLocked(msgtyp int64, flags int) int {
	best := -1
	for i, m := range q.msgs {
		switch {
		case msgtyp == 0:
			return i
		case msgtyp > 0 && flags&msgExcept == 0:
			if m.mtype == msgtyp {
				return i
			}
		case msgtyp > 0:
			if m.mtype != msgtyp {
				return i
			}
		default:
			// The lowest type not above -msgtyp, the first of them.
			if m.mtype <= -msgtyp && (best < 0 || m.mtype < q.msgs[best].mtype) {
				best = i
			}
		}
	}
	return best
}

// Receive is msgrcv: the message msgtyp selects, at most size bytes of it
// (E2BIG for a longer one unless MSG_NOERROR, which cuts it), waiting for
// one unless IPC_NOWAIT (ENOMSG).
func (r *MsgRegistry) Receive(t *Task, id int32, size int, msgtyp int64, flags int) (int64, []byte, error) {
	creds := t.Creds()
	if size < 0 || flags&msgCopy != 0 {
		// MSG_COPY is for checkpointing; a kernel without it refuses it.
		return 0, nil, unix.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[id]
	if !ok {
		return 0, nil, unix.EINVAL
	}
	if !q.access(&creds, 4) {
		return 0, nil, unix.EACCES
	}
	for {
		if i := q.matchLocked(msgtyp, flags); i >= 0 {
			m := q.msgs[i]
			if len(m.data) > size {
				if flags&msgNoerror == 0 {
					return 0, nil, unix.E2BIG
				}
				m.data = m.data[:size]
			}
			q.bytes -= len(q.msgs[i].data)
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			q.LRPID, q.RTime = t.TGID(), time.Now()
			q.changedLocked()
			return m.mtype, m.data, nil
		}
		if flags&unix.IPC_NOWAIT != 0 {
			return 0, nil, unix.ENOMSG
		}
		if err := r.waitLocked(t, q); err != nil {
			return 0, nil, err
		}
	}
}

// MsgStat is what IPC_STAT reports of a queue.
type MsgStat struct {
	IPCPerm
	ID                  int32
	STime, RTime, CTime time.Time
	Bytes, QNum, QBytes int
	LSPID, LRPID        int32
}

// Stat returns queue id's state (by index for MSG_STAT).
func (r *MsgRegistry) Stat(t *Task, id int32, byIndex, any bool) (MsgStat, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := ipcAt(r.queues, id, byIndex)
	if !ok {
		return MsgStat{}, unix.EINVAL
	}
	if !any && !q.access(&creds, 4) {
		return MsgStat{}, unix.EACCES
	}
	return MsgStat{IPCPerm: q.IPCPerm, ID: q.ID, STime: q.STime, RTime: q.RTime, CTime: q.CTime,
		Bytes: q.bytes, QNum: len(q.msgs), QBytes: q.QBytes, LSPID: q.LSPID, LRPID: q.LRPID}, nil
}

// Set is IPC_SET: the owner, group, permission bits and the queue's size
// in bytes (above MSGMNB only with CAP_SYS_RESOURCE).
func (r *MsgRegistry) Set(t *Task, id int32, uid, gid uint32, mode uint16, qbytes int) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := ipcOwned(r.queues, id, &creds)
	if err != nil {
		return err
	}
	if qbytes > MsgMNB && !creds.HasCap(unix.CAP_SYS_RESOURCE) {
		return unix.EPERM
	}
	q.set(uid, gid, mode)
	q.QBytes = qbytes
	q.CTime = time.Now()
	q.changedLocked()
	return nil
}

// Remove is IPC_RMID: the queue and its messages go at once, its waiters
// fail with EIDRM.
func (r *MsgRegistry) Remove(t *Task, id int32) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := ipcOwned(r.queues, id, &creds)
	if err != nil {
		return err
	}
	q.removed = true
	delete(r.queues, id)
	q.changedLocked()
	return nil
}

// Info returns the highest index in use, the queues, messages and bytes.
func (r *MsgRegistry) Info() (highest int32, queues, msgs, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.queues {
		highest = max(highest, q.ID&0x7fff)
		queues++
		msgs += len(q.msgs)
		bytes += q.bytes
	}
	return highest, queues, msgs, bytes
}
